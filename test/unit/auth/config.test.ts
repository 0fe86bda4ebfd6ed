import { describe, expect, it } from 'vitest';
import { AuthConfigError, tokenVerifierConfigFromEnv } from '../../../shared/auth/config';

const base = { JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'wechatpay-api' };

describe('tokenVerifierConfigFromEnv', () => {
  it('reads a PEM public key', () => {
    expect(tokenVerifierConfigFromEnv({ ...base, JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\n…' })).toEqual({
      issuer: 'https://issuer.test',
      audience: 'wechatpay-api',
      publicKey: '-----BEGIN PUBLIC KEY-----\n…',
    });
  });

  it('reads a JWKS URL', () => {
    expect(tokenVerifierConfigFromEnv({ ...base, JWT_JWKS_URL: 'https://issuer.test/jwks' })).toEqual({
      issuer: 'https://issuer.test',
      audience: 'wechatpay-api',
      jwksUrl: 'https://issuer.test/jwks',
    });
  });

  it.each([
    ['JWT_ISSUER', { JWT_AUDIENCE: 'a', JWT_PUBLIC_KEY: 'k' }],
    ['JWT_ISSUER', { JWT_ISSUER: '  ', JWT_AUDIENCE: 'a', JWT_PUBLIC_KEY: 'k' }],
    ['JWT_AUDIENCE', { JWT_ISSUER: 'i', JWT_PUBLIC_KEY: 'k' }],
    ['JWT_JWKS_URL or JWT_PUBLIC_KEY', { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }],
    ['JWT_JWKS_URL and JWT_PUBLIC_KEY', { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_PUBLIC_KEY: 'k', JWT_JWKS_URL: 'https://x' }],
  ])('fails fast naming %s', (name, env) => {
    expect(() => tokenVerifierConfigFromEnv(env)).toThrow(AuthConfigError);
    expect(() => tokenVerifierConfigFromEnv(env)).toThrow(name);
  });

  it('does not echo values in its errors', () => {
    try {
      tokenVerifierConfigFromEnv({ JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_PUBLIC_KEY: 'SECRET-KEY', JWT_JWKS_URL: 'https://x' });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain('SECRET-KEY');
    }
  });
});
