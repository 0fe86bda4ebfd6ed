import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOpenApiDocument } from './document';

/** `npm run openapi`: writes docs/openapi.json (committed; a test fails when it differs from what the code builds). */
export const OPENAPI_FILE = join(import.meta.dirname, '..', '..', 'docs', 'openapi.json');

export function renderOpenApiDocument(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  writeFileSync(OPENAPI_FILE, renderOpenApiDocument());
  console.log(`wrote ${OPENAPI_FILE}`);
}
