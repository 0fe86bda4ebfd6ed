/**
 * HTTP API Lambda authorizer — payload format 2.0, simple responses (`enableSimpleResponses: true`), no identity
 * source and no caching (so API Gateway invokes it for every request, with or without an Authorization header).
 *
 * The gateway cannot shape an authorizer's denial body, so this authorizer denies only a route that is missing
 * from the scope table (fail closed: no handler may ever see it) and otherwise ALLOWS, with its verdict in the
 * context (shared/auth/verdict.ts). The route's handler reads the verdict from
 * `event.requestContext.authorizer.lambda` (AWS and serverless-offline alike) in the shared HTTP wrapper and
 * answers any refusal as problem+json:
 *
 * - no token (no header, an empty one, "Bearer" alone) → TOKEN_MISSING (401)
 * - another scheme, conflicting headers, a malformed JWT, a wrong signature or key, a disallowed alg (none, HS*),
 *   a wrong iss / aud, a missing claim → TOKEN_INVALID (401, naming the claim when one failed)
 * - expired → TOKEN_EXPIRED (401)
 * - a valid token without the route's scope → INSUFFICIENT_SCOPE (403, naming the scope)
 * - the JWKS could not be fetched → AUTH_UNAVAILABLE (503); a JWT_* variable missing → MISCONFIGURED (500)
 * - a valid token with the route's scope → verdict `allow` with `sub` and `scopes`.
 *
 * Notes:
 * - serverless-offline passes `headers` with their original case (parseHeaders(rawHeaders)), API Gateway
 *   lower-cases them, hence the case-insensitive lookup; `identitySource` is checked as a fallback.
 * - The decision depends on the route, so authorizer result caching must stay disabled (resultTtlInSeconds: 0) or
 *   be keyed on the route as well; otherwise a verdict for a read route would be reused on a write route.
 * - The token is never logged. A refusal is logged at warn through the shared Powertools logger
 *   (shared/runtime/logger.ts), so it has the same shape as every other function's log lines: message
 *   "authorizer denied", the reason, the status the caller gets, the route, API Gateway's request id, and the
 *   subject when the token itself was valid.
 */
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  Context,
} from 'aws-lambda';
import { bindInvocation, logger } from '../runtime/logger';
import { authorizeRoute, requiredScopeFor } from './scopes';
import { TokenError } from './verifier';
import type { TokenErrorReason, TokenVerifier } from './verifier';
import { allowedContext, refusalFor, refusedContext } from './verdict';
import type { AuthorizerContext, VerdictReason } from './verdict';

export type { AuthorizerContext } from './verdict';

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>;

export type DenyReason =
  | 'no_token'
  | 'malformed_header'
  | 'unknown_route'
  | 'insufficient_scope'
  | 'verifier_error'
  | 'config_error'
  | TokenErrorReason;

export interface AuthorizerDeps {
  /** Returns the (cached) verifier; may throw when the configuration is unusable. */
  getVerifier: () => TokenVerifier;
  /** Receives each denial (message and fields). Defaults to the shared Powertools logger, at warn. */
  log?: (message: string, fields: Record<string, unknown>) => void;
}

/** The subset of the 2.0 authorizer event this handler reads (offline may send `headers: null`). */
export type AuthorizerEvent = Partial<
  Pick<APIGatewayRequestAuthorizerEventV2, 'routeKey' | 'identitySource' | 'headers' | 'requestContext'>
> & { headers?: Record<string, string | undefined> | null; identitySource?: (string | null)[] | null };

type Credentials = { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string };

/** Only for a route missing from the scope table, which is denied outright (the context is then discarded). */
const DENY_CONTEXT: AuthorizerContext = { ...refusedContext('config_error'), reason: 'unknown_route' };

export function createAuthorizerHandler(
  deps: AuthorizerDeps,
): (event: AuthorizerEvent, context?: Context) => Promise<AuthorizerResult> {
  const log = deps.log ?? ((message: string, fields: Record<string, unknown>) => logger.warn(message, fields));

  const deny = (
    event: AuthorizerEvent,
    reason: DenyReason,
    status: 401 | 403 | 500 | 503,
    extra: Record<string, string | undefined> = {},
  ): void => {
    const fields: Record<string, unknown> = {
      reason,
      status,
      route: typeof event.routeKey === 'string' ? event.routeKey.slice(0, 200) : null,
      requestId: event.requestContext?.requestId,
    };
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) fields[k] = v;
    log('authorizer denied', fields);
  };

  /** Logs the refusal (with the status the caller will get) and allows with the verdict for the handler. */
  const refuse = (
    event: AuthorizerEvent,
    reason: VerdictReason,
    options: { detail?: string; sub?: string; required?: string } = {},
  ): AuthorizerResult => {
    const context = refusedContext(reason, options);
    const status = refusalFor(context)?.status ?? 500;
    deny(event, reason, status, {
      detail: options.detail,
      sub: options.sub?.slice(0, 200),
      required: options.required,
    });
    return { isAuthorized: true, context };
  };

  return async (event, context) => {
    // The invocation's request id, function name and cold start on every line, as in the other functions.
    bindInvocation(context);
    // Unknown routes are refused outright, before any other check: no handler may see them.
    const routeKey = event.routeKey;
    if (requiredScopeFor(routeKey) === undefined) {
      deny(event, 'unknown_route', 403);
      return { isAuthorized: false, context: DENY_CONTEXT };
    }
    const credentials = bearerCredentials(event);
    if (credentials.kind === 'none') return refuse(event, 'no_token');
    if (credentials.kind === 'malformed') return refuse(event, 'malformed_header');

    let verifier: TokenVerifier;
    try {
      verifier = deps.getVerifier();
    } catch (err) {
      // A deployment problem, not the caller's: the handler answers 500 MISCONFIGURED; the log names the variable.
      return refuse(event, 'config_error', { detail: err instanceof Error ? err.message : undefined });
    }

    let subject: string;
    let scopes: string[];
    try {
      ({ subject, scopes } = await verifier.verify(credentials.token));
    } catch (err) {
      if (err instanceof TokenError) return refuse(event, err.reason, { detail: err.detail });
      return refuse(event, 'verifier_error', { detail: err instanceof Error ? err.name : undefined });
    }

    const decision = authorizeRoute(routeKey, scopes);
    if (!decision.allowed) {
      return refuse(event, 'insufficient_scope', {
        sub: subject,
        required: decision.reason === 'insufficient_scope' ? decision.required : undefined,
      });
    }
    return { isAuthorized: true, context: allowedContext(subject, scopes.join(' ')) };
  };
}

/**
 * The bearer token from the Authorization header (any case), else from `identitySource`.
 * - none: no header, an empty one, or "Bearer" without a token → TOKEN_MISSING
 * - malformed: another scheme, a token with inner whitespace, or conflicting duplicate headers → TOKEN_INVALID
 */
export function bearerCredentials(event: AuthorizerEvent): Credentials {
  const values = new Set<string>();
  const headers = event.headers;
  if (headers && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === 'authorization' && typeof value === 'string' && value.trim() !== '') {
        values.add(value.trim());
      }
    }
  }
  if (values.size === 0 && Array.isArray(event.identitySource)) {
    for (const value of event.identitySource) {
      if (typeof value === 'string' && /^\s*bearer(\s|$)/i.test(value)) values.add(value.trim());
    }
  }
  if (values.size === 0) return { kind: 'none' };
  if (values.size > 1) return { kind: 'malformed' };
  const [value] = [...values] as [string];
  const match = /^Bearer(?:\s+(.*))?$/is.exec(value);
  if (!match) return { kind: 'malformed' };
  const token = (match[1] ?? '').trim();
  if (token === '') return { kind: 'none' };
  if (/\s/.test(token)) return { kind: 'malformed' };
  return { kind: 'token', token };
}
