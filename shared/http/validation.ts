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
  for (const issue of result.issues) {
    // `||`, not `??`: a member whose key is "" has the path "", which names nothing.
    const field = v.getDotPath(issue) || 'body';
    const key = `${field}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ field, message: issue.message });
  }
  throw new RequestValidationError(problems);
}
