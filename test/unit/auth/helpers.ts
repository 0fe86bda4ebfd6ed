import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'wechatpay-api';

export interface TestKey {
  alg: 'ES256' | 'RS256';
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicKeyPem: string;
  publicJwk: JWK;
}

export async function makeKey(alg: 'ES256' | 'RS256', kid = `${alg.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048 } : {});
  const publicKeyPem = await exportSPKI(publicKey);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicKeyPem, publicJwk };
}

export interface SignOptions {
  claims?: JWTPayload;
  issuer?: string | null;
  audience?: string | string[] | null;
  subject?: string | null;
  /** seconds from now; null = no exp */
  expiresIn?: number | null;
  kid?: string | null;
  scope?: string | null;
}

export async function sign(key: TestKey, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(options.scope === null ? {} : { scope: options.scope ?? 'payments:read payments:write' }), ...options.claims })
    .setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(options.kid === null ? {} : { kid: options.kid ?? key.kid }) })
    .setIssuedAt(now);
  if (options.issuer !== null) jwt.setIssuer(options.issuer ?? ISSUER);
  if (options.audience !== null) jwt.setAudience(options.audience ?? AUDIENCE);
  if (options.subject !== null) jwt.setSubject(options.subject ?? 'client-123');
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 300));
  return jwt.sign(key.privateKey);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function standardClaims(extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: AUDIENCE, sub: 'client-123', iat: now, exp: now + 300, scope: 'payments:read payments:write', ...extra };
}

/** An unsecured JWT: `alg: none`, empty signature. */
export function unsecuredToken(claims: JWTPayload = standardClaims()): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** Algorithm confusion: HS256 with the verifier's public key text used as the HMAC secret. */
export async function hs256WithPublicKey(publicKeyPem: string, claims: JWTPayload = standardClaims()): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(publicKeyPem));
}
