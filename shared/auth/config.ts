import type { TokenVerifierOptions } from './verifier';

/** Thrown when the JWT environment (docs/contracts.md §2) is incomplete; the message names the variable. */
export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * Token-verifier options from JWT_ISSUER, JWT_AUDIENCE and one of JWT_JWKS_URL / JWT_PUBLIC_KEY
 * (a PEM SPKI public key or a public JWK JSON). Fails fast, naming the missing or conflicting variable;
 * values are never echoed.
 */
export function tokenVerifierConfigFromEnv(env: Env = process.env): TokenVerifierOptions {
  const issuer = read(env, 'JWT_ISSUER');
  if (!issuer) throw new AuthConfigError('JWT_ISSUER is not set: the expected bearer-token issuer is required');
  const audience = read(env, 'JWT_AUDIENCE');
  if (!audience) throw new AuthConfigError('JWT_AUDIENCE is not set: the expected bearer-token audience is required');

  const jwksUrl = read(env, 'JWT_JWKS_URL');
  const publicKey = read(env, 'JWT_PUBLIC_KEY');
  if (jwksUrl && publicKey) {
    throw new AuthConfigError('JWT_JWKS_URL and JWT_PUBLIC_KEY are both set: set exactly one of them');
  }
  if (jwksUrl) return { issuer, audience, jwksUrl };
  if (publicKey) return { issuer, audience, publicKey };
  throw new AuthConfigError(
    'JWT_JWKS_URL or JWT_PUBLIC_KEY must be set: token verification needs a JWKS URL or a PEM / JWK public key',
  );
}
