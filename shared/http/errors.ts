import type { FieldProblem } from './responses';

/**
 * Errors a use case raises on purpose, each with the HTTP status a caller should see. Anything else that
 * escapes a use case is a bug or an outage and becomes a 500 without details.
 */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { errors?: FieldProblem[]; retryAfterSeconds?: number; wechatpay?: unknown } = {},
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export const notFound = (what: string) => new ServiceError(404, 'NOT_FOUND', `${what} was not found`);

/** The business key is taken by a different request (or may never be reused): never calls WeChat. */
export const conflict = (code: string, message: string) => new ServiceError(409, code, message);

/** WeChat is unreachable or failing; the same request is safe to send again later. */
export const unavailable = (message: string, retryAfterSeconds = 2) =>
  new ServiceError(503, 'WECHATPAY_UNAVAILABLE', message, { retryAfterSeconds });
