/**
 * The authorizer's verdict, and how a merchant route answers it.
 *
 * API Gateway HTTP APIs cannot shape the body of an authorizer's denial (`{"message":"Forbidden"}`, and a bare 401
 * before the authorizer even runs when an identity source is missing). So the authorizer denies only what no
 * handler may ever see (a route missing from the scope table) and otherwise ALLOWS, passing its verdict in the
 * context (`event.requestContext.authorizer.lambda`, on AWS and in serverless-offline). The shared HTTP wrapper
 * (`shared/http/handler.ts`) reads it before anything else and answers every refusal as problem+json with a
 * stable code. A handler event without a verdict is refused (500 MISCONFIGURED): a merchant route not behind the
 * authorizer fails closed.
 *
 * This module has no dependency on jose, so the HTTP bundles stay small.
 */
import type { TokenErrorReason } from './verifier';

export type AuthProblemCode =
  | 'TOKEN_MISSING'
  | 'TOKEN_INVALID'
  | 'TOKEN_EXPIRED'
  | 'INSUFFICIENT_SCOPE'
  | 'AUTH_UNAVAILABLE'
  | 'MISCONFIGURED';

/**
 * Passed to the route's handler as `event.requestContext.authorizer.lambda`. Strings only (what every gateway and
 * serverless-offline pass through unchanged); empty strings stand for "not applicable".
 */
export interface AuthorizerContext {
  /** `allow`, or the problem code the handler must answer with. */
  verdict: 'allow' | AuthProblemCode;
  sub: string;
  /** Granted scopes, space-separated (as in the token's `scope` claim). */
  scopes: string;
  /** For a refusal: why, as a fixed token (`expired`, `claims`, `no_token`, …). Never part of the token. */
  reason: string;
  /** For `claims`: the failing claim's name (`iss`, `aud`, `nbf`, …). */
  claim: string;
  /** For INSUFFICIENT_SCOPE: the scope the route requires. */
  required: string;
}

export type VerdictReason =
  | 'no_token'
  | 'malformed_header'
  | 'insufficient_scope'
  | 'verifier_error'
  | 'config_error'
  | TokenErrorReason;

export function allowedContext(sub: string, scopes: string): AuthorizerContext {
  return { verdict: 'allow', sub, scopes, reason: '', claim: '', required: '' };
}

/** The verdict for a refusal; `detail` is the verifier's token-free hint (a claim name, or "jwks unavailable"). */
export function refusedContext(reason: VerdictReason, options: { detail?: string; sub?: string; required?: string } = {}): AuthorizerContext {
  const base = { sub: options.sub ?? '', scopes: '', reason, claim: '', required: '' };
  switch (reason) {
    case 'no_token':
      return { ...base, verdict: 'TOKEN_MISSING' };
    case 'expired':
      return { ...base, verdict: 'TOKEN_EXPIRED' };
    case 'insufficient_scope':
      return { ...base, verdict: 'INSUFFICIENT_SCOPE', required: options.required ?? '' };
    case 'config_error':
      return { ...base, verdict: 'MISCONFIGURED' };
    case 'no_key':
      // The key set could not be fetched: our outage, not the caller's fault.
      return options.detail === 'jwks unavailable' ? { ...base, verdict: 'AUTH_UNAVAILABLE' } : { ...base, verdict: 'TOKEN_INVALID' };
    case 'claims':
      return { ...base, verdict: 'TOKEN_INVALID', claim: CLAIM.test(options.detail ?? '') ? options.detail! : '' };
    default:
      return { ...base, verdict: 'TOKEN_INVALID' };
  }
}

const CLAIM = /^[a-z_]{1,32}$/;

export interface AuthRefusal {
  status: 401 | 403 | 500 | 503;
  code: AuthProblemCode;
  detail: string;
  headers: Record<string, string>;
  extra: Record<string, string>;
}

const REALM = 'realm="wechatpay-serverless"';

const INVALID_DETAIL: Record<string, string> = {
  malformed_header: 'the Authorization header must be "Bearer <token>"',
  malformed: 'the bearer token is not a JWT',
  bad_signature: 'the token signature does not verify with an accepted key and algorithm',
  no_key: 'the token is signed with a key this API does not accept',
  verifier_error: 'the token could not be verified',
  override_header: 'the sls-offline-authorizer-override header is not accepted',
};

/**
 * What a merchant route answers for the authorizer context it received: undefined when allowed, else the refusal.
 * Anything unexpected (no context, an unknown verdict, an allow without a subject) is refused: fail closed.
 */
export function refusalFor(context: unknown): AuthRefusal | undefined {
  const c = (context ?? {}) as Partial<Record<keyof AuthorizerContext, unknown>>;
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const verdict = text(c.verdict);
  if (verdict === 'allow' && text(c.sub) !== '') return undefined;
  const reason = text(c.reason);
  const invalidToken = (code: AuthProblemCode, detail: string): AuthRefusal => ({
    status: 401,
    code,
    detail,
    headers: { 'www-authenticate': `Bearer ${REALM}, error="invalid_token", error_description="${detail.replace(/"/g, "'")}"` },
    extra: {},
  });
  switch (verdict) {
    case 'TOKEN_MISSING':
      return {
        status: 401,
        code: 'TOKEN_MISSING',
        detail: 'an Authorization: Bearer <token> header is required',
        headers: { 'www-authenticate': `Bearer ${REALM}` },
        extra: {},
      };
    case 'TOKEN_EXPIRED':
      return invalidToken('TOKEN_EXPIRED', 'the token has expired: get a new one');
    case 'TOKEN_INVALID': {
      const claim = text(c.claim);
      if (reason === 'claims') {
        const refusal = invalidToken('TOKEN_INVALID', claim ? `the token's ${claim} claim is not accepted` : "the token's claims are not accepted");
        if (claim) refusal.extra.claim = claim;
        return refusal;
      }
      return invalidToken('TOKEN_INVALID', INVALID_DETAIL[reason] ?? 'the token is not valid');
    }
    case 'INSUFFICIENT_SCOPE': {
      const required = text(c.required);
      return {
        status: 403,
        code: 'INSUFFICIENT_SCOPE',
        detail: required ? `the token lacks the scope ${required} this route requires` : 'the token lacks the scope this route requires',
        headers: { 'www-authenticate': `Bearer ${REALM}, error="insufficient_scope"${required ? `, scope="${required}"` : ''}` },
        extra: required ? { required_scope: required } : {},
      };
    }
    case 'AUTH_UNAVAILABLE':
      return {
        status: 503,
        code: 'AUTH_UNAVAILABLE',
        detail: 'the token signing keys could not be fetched: send the request again',
        headers: { 'retry-after': '2' },
        extra: {},
      };
    default:
      return { status: 500, code: 'MISCONFIGURED', detail: 'the service is not configured correctly', headers: {}, extra: {} };
  }
}
