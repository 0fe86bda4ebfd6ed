import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';

/**
 * Checks a response against docs/openapi.json: the operation is found by method and path template, the status must
 * be one it documents, and a JSON body must match that status's schema. The end-to-end tests run every response
 * through it, so the document is proven by what the running service answers.
 */
type Json = Record<string, any>;
const doc = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'openapi.json'), 'utf8')) as Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'openapi', components: doc.components });

const routes = Object.entries(doc.paths as Record<string, Json>).map(([template, item]) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
  item,
  // Literal paths first: /papay-contracts/by-code/{code} before /papay-contracts/{id}.
  params: (template.match(/\{/g) ?? []).length,
}));
routes.sort((a, b) => a.params - b.params);

const compiled = new Map<string, ValidateFunction>();

export function checkResponse(method: string, url: string, status: number, contentType: string | null, body: unknown): void {
  const path = new URL(url, 'http://x').pathname;
  const route = routes.find((r) => r.pattern.test(path) && r.item[method.toLowerCase()]);
  if (!route) throw new Error(`${method} ${path} is not in docs/openapi.json`);
  const operation = route.item[method.toLowerCase()] as Json;
  const response = operation.responses[String(status)] as Json | undefined;
  if (!response) throw new Error(`${method} ${route.template} answered ${status}, which docs/openapi.json does not document (${Object.keys(operation.responses).join(', ')})`);
  const mediaType = (contentType ?? '').split(';')[0]!.trim();
  if (!response.content) {
    if (mediaType && body !== undefined && body !== '') throw new Error(`${method} ${route.template} ${status}: documented without a body`);
    return;
  }
  const media = response.content[mediaType] as Json | undefined;
  if (!media) throw new Error(`${method} ${route.template} ${status}: ${mediaType} is not documented (${Object.keys(response.content).join(', ')})`);
  const ref = media.schema?.$ref as string | undefined;
  if (!ref) return;
  const key = `openapi${ref}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile({ $ref: key });
    compiled.set(key, validate);
  }
  if (!validate(body)) {
    throw new Error(`${method} ${route.template} ${status} does not match ${ref}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
  }
}
