import * as v from 'valibot';
import type { FieldProblem } from './responses';

export class RequestValidationError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(`invalid request: ${problems.map((p) => p.field).join(', ')}`);
    this.name = 'RequestValidationError';
  }
}

/** Parses JSON text, turning syntax errors into a 400 naming the body rather than a 500. */
export function parseJson(text: Buffer | string): unknown {
  const source = typeof text === 'string' ? text : text.toString('utf8');
  if (source.trim() === '') throw new RequestValidationError([{ field: 'body', message: 'a JSON body is required' }]);
  try {
    return JSON.parse(source);
  } catch {
    throw new RequestValidationError([{ field: 'body', message: 'the body is not valid JSON' }]);
  }
}

/** Validates with a valibot schema and reports every failing field by its dotted path. */
export function validate<const S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, input, { abortEarly: false });
  if (result.success) return result.output;
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  const add = (field: string, message: string) => {
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    problems.push({ field, message });
  };
  for (const issue of result.issues) {
    const unknown = unknownKeys(schema, issue);
    if (unknown) {
      for (const field of unknown) add(field, UNKNOWN_FIELD);
      continue;
    }
    // `||`, not `??`: a member whose key is "" has the path "", which names nothing.
    add(v.getDotPath(issue) || 'body', issue.message);
  }
  throw new RequestValidationError(problems);
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
