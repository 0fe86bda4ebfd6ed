import * as v from 'valibot';
import type { FieldProblem } from './responses';
import { ServiceError } from './errors';
import { header, rawBody, type HttpEvent } from './request';

export class RequestValidationError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(`invalid request: ${problems.map((p) => p.field).join(', ')}`);
    this.name = 'RequestValidationError';
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A merchant route's JSON body: `application/json` (415 otherwise), strict UTF-8 from the raw bytes (API Gateway
 * may have base64-encoded them), no NUL characters, then JSON. Every failure is ours to answer, never WeChat's.
 */
export function jsonBody(event: HttpEvent): unknown {
  const contentType = header(event, 'content-type');
  if (!isJsonContentType(contentType)) {
    throw new ServiceError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be sent as Content-Type: application/json (UTF-8)');
  }
  return parseJson(rawBody(event));
}

/** `application/json`, optionally with `charset=utf-8` (any case, any spacing); nothing else. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const [type = '', ...params] = value.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((param) => param === '' || !param.startsWith('charset=') || /^charset="?utf-8"?$/.test(param));
}

/**
 * Parses a JSON body, turning every problem into a 400 naming the body rather than a 500 or a silent U+FFFD:
 * bytes are decoded as strict UTF-8 and raw NUL characters are refused. Escaped ones (and lone surrogates, which
 * cannot be sent on as UTF-8) are named field by field by `validate`.
 */
export function parseJson(text: Buffer | Uint8Array | string): unknown {
  let source: string;
  if (typeof text === 'string') {
    source = text;
  } else {
    try {
      source = STRICT_UTF8.decode(text);
    } catch {
      throw new RequestValidationError([{ field: 'body', message: 'must be UTF-8 text' }]);
    }
  }
  if (source.includes('\u0000')) throw new RequestValidationError([{ field: 'body', message: 'must not contain NUL characters' }]);
  if (source.trim() === '') throw new RequestValidationError([{ field: 'body', message: 'a JSON body is required' }]);
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch {
    throw new RequestValidationError([{ field: 'body', message: 'the body is not valid JSON' }]);
  }
  return value;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Names every string (value or key) that holds a NUL or a lone surrogate, e.g. from a `\\u0000` escape. */
function checkText(value: unknown, path: string[], problems: FieldProblem[], depth = 0): void {
  if (problems.length >= 20 || depth > 64) return;
  const field = () => path.join('.') || 'body';
  if (typeof value === 'string') {
    if (value.includes('\u0000')) problems.push({ field: field(), message: 'must not contain NUL characters' });
    else if (LONE_SURROGATE.test(value)) problems.push({ field: field(), message: 'must be valid Unicode text (no lone surrogates)' });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkText(item, [...path, String(i)], problems, depth + 1));
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000') || LONE_SURROGATE.test(key)) {
        problems.push({ field: field(), message: 'has a field name with a NUL character or a lone surrogate' });
        continue;
      }
      checkText(item, [...path, key], problems, depth + 1);
    }
  }
}

/** Validates with a valibot schema and reports every failing field by its dotted path. */
export function validate<const S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  // Every request schema is an object: an array would otherwise be reported as unknown fields "0", "1", ….
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new RequestValidationError([{ field: 'body', message: 'must be an object' }]);
  }
  const textProblems: FieldProblem[] = [];
  checkText(input, [], textProblems);
  const result = v.safeParse(schema, input, { abortEarly: false, message: ourMessage });
  if (result.success && textProblems.length === 0) return result.output;
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  const add = (field: string, message: string) => {
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    problems.push({ field, message });
  };
  for (const issue of result.issues ?? []) {
    const unknown = unknownKeys(schema, issue);
    if (unknown) {
      for (const field of unknown) add(field, UNKNOWN_FIELD);
      continue;
    }
    // `||`, not `??`: a member whose key is "" has the path "", which names nothing.
    add(v.getDotPath(issue) || 'body', issue.message);
  }
  for (const problem of textProblems) add(problem.field, problem.message);
  throw new RequestValidationError(problems);
}

const OBJECT_TYPES = new Set(['object', 'strict_object', 'loose_object', 'object_with_rest']);

/**
 * Our wording for any rule that has no message of its own (valibot's default text quotes the received value and
 * its own type names). Schemas give each rule an explicit message; this is the fallback.
 */
export function ourMessage(issue: v.BaseIssue<unknown>): string {
  if (issue.expected === 'never') return UNKNOWN_FIELD;
  if (OBJECT_TYPES.has(issue.type)) {
    return issue.received === 'undefined' && issue.expected?.startsWith('"') ? 'is required' : 'must be an object';
  }
  if (issue.received === 'undefined' && issue.kind === 'schema') return 'is required';
  switch (issue.type) {
    case 'array':
    case 'tuple':
      return 'must be an array';
    case 'string':
      return 'must be a string';
    case 'number':
      return 'must be a number';
    case 'boolean':
      return 'must be true or false';
    case 'picklist':
    case 'enum':
    case 'literal':
    case 'union':
    case 'variant':
      return 'is not one of the allowed values';
    default:
      return 'is not valid';
  }
}

const UNKNOWN_FIELD = 'is not a known field';

type SchemaNode = { entries?: Record<string, SchemaNode>; item?: SchemaNode; wrapped?: SchemaNode };

/**
 * valibot's strict objects report only their first unknown key; a caller fixing a request wants all of them.
 * For such an issue, finds the object's schema along the issue's path and names every key it does not declare.
 */
function unknownKeys(schema: v.GenericSchema, issue: v.BaseIssue<unknown>): string[] | undefined {
  const path = issue.path;
  const last = path?.[path.length - 1];
  if (issue.type !== 'strict_object' || !path || !last || last.origin !== 'key') return undefined;
  let node: SchemaNode | undefined = schema as unknown as SchemaNode;
  const prefix: string[] = [];
  for (const item of path.slice(0, -1)) {
    while (node?.wrapped) node = node.wrapped;
    node = item.type === 'array' ? node?.item : node?.entries?.[String(item.key)];
    prefix.push(String(item.key));
  }
  while (node?.wrapped) node = node.wrapped;
  const entries = node?.entries;
  const object = last.input;
  if (!entries || typeof object !== 'object' || object === null) return undefined;
  const keys = Object.keys(object).filter((key) => !Object.hasOwn(entries, key));
  return keys.length > 0 ? keys.map((key) => [...prefix, key].join('.') || 'body') : undefined;
}
