/**
 * Bearer-token (JWT) verification for the Lambda authorizer, built on jose.
 *
 * - Keys come either from a JWKS URL (jose `createRemoteJWKSet`, created once per verifier and therefore
 *   cached for the life of the Lambda container) or from one configured public key (PEM SPKI or a JWK JSON
 *   string), parsed once when the verifier is created.
 * - Algorithms are pinned: only asymmetric JWS algorithms may be configured (`none` and HS* can never be
 *   allowed), and a token whose header `alg` is not in the list is rejected before any key is resolved.
 * - `iss`, `aud`, `exp` and `sub` are required; `nbf`/`iat` are honoured when present.
 * - Every failure is a `TokenError` carrying a coarse `reason`; no message ever contains the token (nor the
 *   claims), so the error can be logged as is.
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';

export type TokenErrorReason = 'malformed' | 'bad_signature' | 'expired' | 'claims' | 'no_key';

export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly reason: TokenErrorReason;
  /** Short, token-free hint (e.g. the failing claim name); safe to log. */
  readonly detail: string | undefined;

  constructor(reason: TokenErrorReason, detail?: string) {
    super(detail ? `token rejected: ${reason} (${detail})` : `token rejected: ${reason}`);
    this.reason = reason;
    this.detail = detail;
  }
}

/** Thrown by `createTokenVerifier` for an unusable configuration (never for a bad token). */
export class TokenVerifierConfigError extends Error {
  override readonly name = 'TokenVerifierConfigError';
}

/** Asymmetric JWS algorithms that may be allowed. Anything else (`none`, HS256, …) is refused. */
export const SUPPORTED_ALGORITHMS = [
  'ES256', 'ES384', 'ES512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'EdDSA', 'Ed25519',
] as const;
export type SupportedAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

export interface JwksOptions {
  /** ms after a successful fetch before an unknown `kid` may trigger a refetch (jose default 30 000). */
  cooldownDuration?: number;
  /** ms a fetched key set stays fresh (default 600 000). */
  cacheMaxAge?: number;
  /** ms before a JWKS request is aborted (default 5 000). */
  timeoutDuration?: number;
}

export interface TokenVerifierOptions {
  issuer: string;
  audience: string | string[];
  algorithms?: readonly string[];
  /** JWKS endpoint (https, or http on a loopback host for local use). Exactly one of jwksUrl / publicKey. */
  jwksUrl?: string;
  /** PEM SPKI public key, or a public JWK as a JSON string. */
  publicKey?: string;
  clockToleranceSeconds?: number;
  jwks?: JwksOptions;
}

export interface VerifiedToken {
  subject: string;
  scopes: string[];
  claims: JWTPayload;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

/** Longer than any sane access token; bounds the work done on junk input. */
const MAX_TOKEN_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const {
    issuer,
    audience,
    algorithms = ['ES256', 'RS256'],
    jwksUrl,
    publicKey,
    clockToleranceSeconds = 5,
  } = options;

  if (!issuer) throw new TokenVerifierConfigError('token verifier: issuer is required');
  if (!audience || (Array.isArray(audience) && audience.length === 0)) {
    throw new TokenVerifierConfigError('token verifier: audience is required');
  }
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0) {
    throw new TokenVerifierConfigError('token verifier: clockToleranceSeconds must be a non-negative number');
  }
  const pinned = pinAlgorithms(algorithms);
  if (jwksUrl && publicKey) {
    throw new TokenVerifierConfigError('token verifier: configure either jwksUrl or publicKey, not both');
  }

  let key: KeyObject | JWTVerifyGetKey;
  let allowed: string[];
  if (jwksUrl) {
    // One remote set per verifier; the verifier lives in module scope, so fetched keys are reused across
    // invocations. jose refetches (at most once per cooldown) when a token names a kid it has not seen,
    // which is how a rotated-in key is picked up.
    const remote = createRemoteJWKSet(parseJwksUrl(jwksUrl), {
      cooldownDuration: options.jwks?.cooldownDuration ?? 30_000,
      cacheMaxAge: options.jwks?.cacheMaxAge ?? 600_000,
      timeoutDuration: options.jwks?.timeoutDuration ?? 5_000,
    });
    key = async (header, input) => {
      try {
        return await remote(header, input);
      } catch (err) {
        // Whatever goes wrong while finding the key (unknown kid, network, bad JWKS) is "no key".
        const code = (err as { code?: unknown } | null)?.code;
        throw new TokenError('no_key', code === 'ERR_JWKS_NO_MATCHING_KEY' ? undefined : 'jwks unavailable');
      }
    };
    allowed = pinned;
  } else if (publicKey) {
    const parsed = parsePublicKey(publicKey);
    key = parsed.key;
    // Narrow the pinned list to what this key can verify, so e.g. an RS256 header against an EC key is
    // refused as "algorithm not allowed" rather than reaching the crypto layer.
    allowed = pinned.filter((alg) => parsed.algorithms.includes(alg));
    if (allowed.length === 0) {
      throw new TokenVerifierConfigError(
        `token verifier: none of the allowed algorithms (${pinned.join(', ')}) fits the configured public key`,
      );
    }
  } else {
    throw new TokenVerifierConfigError('token verifier: a jwksUrl or a publicKey is required');
  }

  const verifyOptions = {
    issuer,
    audience,
    algorithms: allowed,
    clockTolerance: clockToleranceSeconds,
    requiredClaims: ['exp', 'sub'],
  };

  return {
    async verify(token: string): Promise<VerifiedToken> {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw new TokenError('malformed');
      }
      let payload: JWTPayload;
      try {
        // The two branches only differ in the static type of `key` (jose's overloads).
        payload =
          typeof key === 'function'
            ? (await jwtVerify(token, key, verifyOptions)).payload
            : (await jwtVerify(token, key, verifyOptions)).payload;
      } catch (err) {
        throw toTokenError(err);
      }
      const subject = payload.sub;
      if (typeof subject !== 'string' || subject.length === 0) throw new TokenError('claims', 'sub');
      return { subject, scopes: scopesOf(payload), claims: payload };
    },
  };
}

/** Scopes from `scope` (space-separated string, RFC 8693/9068) or else `scp` (array, or string). */
export function scopesOf(claims: JWTPayload): string[] {
  const { scope, scp } = claims as { scope?: unknown; scp?: unknown };
  let raw: string[];
  if (scope !== undefined) {
    if (typeof scope !== 'string') throw new TokenError('claims', 'scope');
    raw = scope.split(/\s+/);
  } else if (scp !== undefined) {
    if (typeof scp === 'string') raw = scp.split(/\s+/);
    else if (Array.isArray(scp) && scp.every((s): s is string => typeof s === 'string')) raw = scp;
    else throw new TokenError('claims', 'scp');
  } else {
    raw = [];
  }
  return [...new Set(raw.filter((s) => s.length > 0))];
}

function pinAlgorithms(algorithms: readonly string[]): string[] {
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new TokenVerifierConfigError('token verifier: at least one algorithm must be allowed');
  }
  for (const alg of algorithms) {
    if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new TokenVerifierConfigError(
        `token verifier: algorithm ${JSON.stringify(alg)} is not allowed (use one of ${SUPPORTED_ALGORITHMS.join(', ')})`,
      );
    }
  }
  return [...new Set(algorithms)];
}

function parseJwksUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TokenVerifierConfigError('token verifier: jwksUrl is not a valid URL');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TokenVerifierConfigError('token verifier: jwksUrl must use https (http only for a loopback host)');
  }
  return url;
}

function parsePublicKey(value: string): { key: KeyObject; algorithms: string[] } {
  const text = value.trim();
  let key: KeyObject;
  let jwkAlg: unknown;
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as Record<string, unknown>;
      if (jwk === null || typeof jwk !== 'object') throw new Error('not an object');
      if ('d' in jwk || jwk.kty === 'oct') {
        throw new TokenVerifierConfigError('token verifier: publicKey must be a public key (got a private or secret JWK)');
      }
      if (jwk.use !== undefined && jwk.use !== 'sig') {
        throw new TokenVerifierConfigError('token verifier: publicKey JWK "use" must be "sig"');
      }
      jwkAlg = jwk.alg;
      key = createPublicKey({ key: jwk as never, format: 'jwk' });
    } else {
      // Environment variables often carry PEM newlines as literal "\n".
      const pem = text.includes('\\n') ? text.replace(/\\n/g, '\n') : text;
      if (/PRIVATE KEY-----/.test(pem)) {
        throw new TokenVerifierConfigError('token verifier: publicKey must be a public key (got a private key PEM)');
      }
      key = createPublicKey(pem);
    }
  } catch (err) {
    if (err instanceof TokenVerifierConfigError) throw err;
    throw new TokenVerifierConfigError('token verifier: publicKey is neither a PEM public key nor a public JWK');
  }
  let algorithms = algorithmsForKey(key);
  if (typeof jwkAlg === 'string') algorithms = algorithms.filter((alg) => alg === jwkAlg);
  return { key, algorithms };
}

function algorithmsForKey(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ES256'];
      if (curve === 'secp384r1') return ['ES384'];
      if (curve === 'secp521r1') return ['ES512'];
      return [];
    }
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      return [];
  }
}

/** Map jose's errors onto our coarse reasons. Messages are ours: nothing from the token is carried over. */
function toTokenError(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new TokenError('expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: unknown }).claim;
      return new TokenError('claims', typeof claim === 'string' ? claim.slice(0, 32) : undefined);
    }
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new TokenError('malformed');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new TokenError('bad_signature', 'alg not allowed');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new TokenError('bad_signature');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new TokenError('no_key');
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return new TokenError('no_key', 'jwks unavailable');
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new TokenError('bad_signature', 'unsupported');
    default:
      // e.g. a TypeError from jose when the key cannot be used with the header's alg.
      return new TokenError('bad_signature', 'key unusable');
  }
}
