/**
 * HTTP API Lambda authorizer — payload format 2.0, simple responses (`enableSimpleResponses: true`).
 *
 * How each case maps (AWS = API Gateway HTTP API; offline = serverless-offline 14.8,
 * node_modules/serverless-offline/src/events/http/createAuthScheme.js):
 *
 * - No Authorization header (or, on AWS, an empty one) → 401.
 *     AWS: the identity source ($request.header.Authorization) is missing, so API Gateway answers 401
 *     without invoking this function. offline: `authorization === undefined` → Boom.unauthorized before
 *     the function runs (l. 92-98).
 * - Header present but carrying no token ("" in offline, "Bearer", "Bearer   ") → this handler throws
 *     Error('Unauthorized') → 401. AWS: the documented way for a Lambda authorizer to answer 401.
 *     offline: any rejection of the handler is caught → Boom.unauthorized (l. 259-264).
 * - Anything else that fails → `{ isAuthorized: false }` → 403 in both (AWS simple responses; offline
 *     l. 180-195 → Boom.forbidden): another scheme or junk instead of "Bearer <jwt>", a malformed token,
 *     wrong signature / key, disallowed alg (none, HS*), expired, wrong iss / aud, missing claims, a route
 *     not in the scope table, a missing scope.
 * - Valid token carrying the route's scope → `{ isAuthorized: true, context: { sub, scopes } }`; the
 *     route's handler sees it as `event.requestContext.authorizer.lambda` (both AWS and offline).
 * - Unusable configuration (a JWT_* variable missing) → the config error is rethrown: 500 on AWS (an
 *     authorizer failure), 401 offline (l. 259-264). Either way nothing reaches a handler.
 *
 * Notes:
 * - Returning `{ isAuthorized: false }` is always 403 with simple responses, and a returned/`callback`ed
 *   'Unauthorized' string is NOT turned into 401 by serverless-offline in simple-response mode (l. 180 runs
 *   before the `result === "Unauthorized"` check at l. 198), so the only way to get 401 in both places is
 *   to throw. Only the no-token case throws; every other failure returns isAuthorized: false.
 * - serverless-offline passes `headers` with their original case (parseHeaders(rawHeaders)), API Gateway
 *   lower-cases them, hence the case-insensitive lookup; `identitySource` is checked as a fallback.
 * - The decision depends on the route, so authorizer result caching must be keyed on the route as well
 *   (identitySource: [$request.header.Authorization, $context.routeKey]) or disabled
 *   (resultTtlInSeconds: 0); otherwise a token cached as allowed for a read route would be let through
 *   on a write route.
 * - The token is never logged. A denial is logged as one JSON line (reason, route, request id, and the
 *   subject when the token itself was valid).
 */
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { authorizeRoute, requiredScopeFor } from './scopes';
import { TokenError } from './verifier';
import type { TokenErrorReason, TokenVerifier } from './verifier';

/** Passed to the route's handler as `event.requestContext.authorizer.lambda`. */
export interface AuthorizerContext {
  sub: string;
  /** Granted scopes, space-separated (as in the token's `scope` claim). */
  scopes: string;
}

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>;

/** The exact message API Gateway maps to 401 when an authorizer fails with it. */
export const UNAUTHORIZED_MESSAGE = 'Unauthorized';

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
  /** Receives one JSON line per denial. Defaults to console.log. */
  log?: (line: string) => void;
}

/** The subset of the 2.0 authorizer event this handler reads (offline may send `headers: null`). */
export type AuthorizerEvent = Partial<
  Pick<APIGatewayRequestAuthorizerEventV2, 'routeKey' | 'identitySource' | 'headers' | 'requestContext'>
> & { headers?: Record<string, string | undefined> | null; identitySource?: (string | null)[] | null };

type Credentials = { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string };

const DENY_CONTEXT: AuthorizerContext = { sub: '', scopes: '' };

export function createAuthorizerHandler(deps: AuthorizerDeps): (event: AuthorizerEvent) => Promise<AuthorizerResult> {
  const log = deps.log ?? ((line: string) => console.log(line));

  const deny = (
    event: AuthorizerEvent,
    reason: DenyReason,
    status: 401 | 403 | 500,
    extra: Record<string, string | undefined> = {},
  ): void => {
    const line: Record<string, unknown> = {
      level: 'warn',
      msg: 'authorizer denied',
      reason,
      status,
      route: typeof event.routeKey === 'string' ? event.routeKey.slice(0, 200) : null,
      requestId: event.requestContext?.requestId,
    };
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) line[k] = v;
    log(JSON.stringify(line));
  };

  return async (event) => {
    const credentials = bearerCredentials(event);
    if (credentials.kind === 'none') {
      deny(event, 'no_token', 401);
      throw new Error(UNAUTHORIZED_MESSAGE);
    }
    if (credentials.kind === 'malformed') {
      deny(event, 'malformed_header', 403);
      return { isAuthorized: false, context: DENY_CONTEXT };
    }
    // Unknown routes are refused before any verification work.
    const routeKey = event.routeKey;
    if (requiredScopeFor(routeKey) === undefined) {
      deny(event, 'unknown_route', 403);
      return { isAuthorized: false, context: DENY_CONTEXT };
    }

    let verifier: TokenVerifier;
    try {
      verifier = deps.getVerifier();
    } catch (err) {
      // A deployment problem, not the caller's: surface it (500 on AWS). The message names the variable.
      deny(event, 'config_error', 500, { detail: err instanceof Error ? err.message : undefined });
      throw err;
    }

    let subject: string;
    let scopes: string[];
    try {
      ({ subject, scopes } = await verifier.verify(credentials.token));
    } catch (err) {
      if (err instanceof TokenError) {
        deny(event, err.reason, 403, { detail: err.detail });
      } else {
        deny(event, 'verifier_error', 403, { detail: err instanceof Error ? err.name : undefined });
      }
      return { isAuthorized: false, context: DENY_CONTEXT };
    }

    const decision = authorizeRoute(routeKey, scopes);
    if (!decision.allowed) {
      deny(event, decision.reason, 403, {
        sub: subject.slice(0, 200),
        required: decision.reason === 'insufficient_scope' ? decision.required : undefined,
      });
      return { isAuthorized: false, context: DENY_CONTEXT };
    }
    return { isAuthorized: true, context: { sub: subject, scopes: scopes.join(' ') } };
  };
}

/**
 * The bearer token from the Authorization header (any case), else from `identitySource`.
 * - none: no header, an empty one, or "Bearer" without a token → 401
 * - malformed: another scheme, a token with inner whitespace, or conflicting duplicate headers → 403
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
