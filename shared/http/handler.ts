import type { Context } from 'aws-lambda';
import { withInvocation } from '../runtime/invocation';
import { RequestValidationError } from './validation';
import { ServiceError } from './errors';
import { problem, type HttpResult } from './responses';
import { logger } from '../runtime/logger';
import { ConfigError } from '../config/env';

/**
 * Wraps a merchant-API handler so every failure maps to a status: serverless-offline (and a careless handler in
 * the cloud) would otherwise answer 200 or an opaque 502 when a handler throws.
 */
export function httpHandler<E>(name: string, run: (event: E) => Promise<HttpResult>): (event: E, context?: Context) => Promise<HttpResult> {
  return (event, context) =>
    withInvocation(context, async () => {
      try {
        return await run(event);
      } catch (error) {
        return errorToHttp(name, error);
      }
    });
}

export function errorToHttp(name: string, error: unknown): HttpResult {
  if (error instanceof RequestValidationError) {
    return problem(400, 'INVALID_REQUEST', error.message, { errors: error.problems });
  }
  if (error instanceof ServiceError) {
    const headers: Record<string, string> = {};
    if (error.extra.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.extra.retryAfterSeconds);
    const { retryAfterSeconds: _ignored, ...extra } = error.extra;
    if (error.status >= 500) logger.warn('request failed', { function: name, code: error.code, status: error.status });
    return problem(error.status, error.code, error.message, { ...extra, headers });
  }
  if (error instanceof ConfigError) {
    logger.error('misconfigured', { function: name, error: error.message });
    return problem(500, 'MISCONFIGURED', 'the service is not configured correctly');
  }
  logger.error('unexpected error', { function: name, error: describe(error) });
  return problem(500, 'INTERNAL_ERROR', 'the request could not be completed');
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'non-error thrown';
}
