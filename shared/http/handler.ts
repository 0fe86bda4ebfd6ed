import type { Context } from 'aws-lambda';
import { withInvocation } from '../runtime/invocation';
import { RequestValidationError } from './validation';
import { ServiceError } from './errors';
import { problem, type HttpResult } from './responses';
import { logger } from '../runtime/logger';
import { ConfigError } from '../config/env';
import { refusalFor } from '../auth/verdict';
import { header } from './request';

/**
 * Wraps a merchant-API handler so every failure maps to a status: serverless-offline (and a careless handler in
 * the cloud) would otherwise answer 200 or an opaque 502 when a handler throws.
 *
 * It first answers the authorizer's verdict (shared/auth/verdict.ts): the authorizer allows every request on a
 * known route and passes its verdict in `requestContext.authorizer.lambda`, because API Gateway cannot shape an
 * authorizer's denial. Nothing runs unless the verdict is `allow`; an event without a verdict (a route not behind
 * the authorizer) is refused as MISCONFIGURED.
 */
export function httpHandler<E>(name: string, run: (event: E) => Promise<HttpResult>): (event: E, context?: Context) => Promise<HttpResult> {
  return (event, context) =>
    withInvocation(context, async () => {
      try {
        const refused = authorizationRefusal(name, event);
        if (refused) return refused;
        return await run(event);
      } catch (error) {
        return errorToHttp(name, error);
      }
    });
}

type AuthorizedEvent = { headers?: Record<string, string | undefined> | null; requestContext?: { authorizer?: { lambda?: unknown } } };

/** serverless-offline lets a client replace the authorizer's context with this header: never accept it. */
const OFFLINE_OVERRIDE = 'sls-offline-authorizer-override';

export function authorizationRefusal(name: string, event: unknown): HttpResult | undefined {
  const e = (event ?? {}) as AuthorizedEvent;
  if (header({ headers: (e.headers ?? {}) as Record<string, string | undefined> }, OFFLINE_OVERRIDE) !== undefined) {
    return problem(401, 'TOKEN_INVALID', 'the sls-offline-authorizer-override header is not accepted', {
      headers: { 'www-authenticate': 'Bearer realm="wechatpay-serverless", error="invalid_request"' },
    });
  }
  const verdict = e.requestContext?.authorizer?.lambda;
  const refusal = refusalFor(verdict);
  if (!refusal) return undefined;
  if (refusal.status >= 500) {
    logger.error(verdict === undefined ? 'no authorizer verdict: the route is not behind the authorizer' : 'authorization failed', {
      function: name,
      code: refusal.code,
    });
  }
  return problem(refusal.status, refusal.code, refusal.detail, { ...refusal.extra, headers: refusal.headers });
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
