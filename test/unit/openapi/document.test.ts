import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';
import { ROUTE_SCOPES } from '../../../shared/auth/scopes';
import { buildOpenApiDocument } from '../../../scripts/openapi/document';
import { renderOpenApiDocument } from '../../../scripts/openapi/generate';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
type Doc = { paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>; components: { schemas: Record<string, object> } };

describe('docs/openapi.json', () => {
  it('is exactly what the code generates (run `npm run openapi` after changing a route or a schema)', () => {
    expect(read('docs/openapi.json')).toBe(renderOpenApiDocument());
  });

  it('client/schema.ts is exactly what openapi-typescript makes of it', async () => {
    const generated = astToString(await openapiTS(JSON.parse(read('docs/openapi.json')) as never));
    const committed = read('client/schema.ts');
    expect(committed.endsWith(generated), 'client/schema.ts is stale: run `npm run openapi`').toBe(true);
  });

  it('documents every route serverless.yml declares, each merchant route with the scope the authorizer enforces', () => {
    const doc = buildOpenApiDocument() as unknown as Doc;
    const yml = read('serverless.yml');
    const declared = [...yml.matchAll(/- httpApi:\s*\n\s*method: (\w+)\s*\n\s*path: (\S+)/g)].map(([, m, p]) => `${m!.toUpperCase()} ${p}`);
    expect(declared.length).toBeGreaterThan(20);
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual([...new Set(declared)].sort());
    for (const [routeKey, scope] of Object.entries(ROUTE_SCOPES)) {
      const [method, path] = routeKey.split(' ') as [string, string];
      expect(doc.paths[path]?.[method.toLowerCase()]?.security, routeKey).toEqual([{ merchantJwt: [scope] }]);
    }
  });

  it('every schema is valid JSON Schema 2020-12 and refuses what the handlers refuse', () => {
    const doc = buildOpenApiDocument() as unknown as Doc;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    for (const [name, schema] of Object.entries(doc.components.schemas)) expect(() => ajv.compile(schema), name).not.toThrow();
    const deduction = ajv.compile(doc.components.schemas['CreateDeduction']!);
    expect(deduction({ contract_id: 'W1', out_trade_no: 'D0000001', total_fee: 990, body: '月卡' })).toBe(true);
    expect(deduction({ contract_id: 'W1', out_trade_no: 'D0000001', total_fee: 9.9, body: '月卡' })).toBe(false); // fen are integers
    expect(deduction({ contract_id: 'W1', out_trade_no: 'D0000001', total_fee: 990, body: '月卡', notify_url: 'https://x' })).toBe(false); // ours, never the caller's
  });
});
