import { beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, scopesOf, TokenError, TokenVerifierConfigError } from '../../../shared/auth/verifier';
import type { TokenErrorReason, TokenVerifier } from '../../../shared/auth/verifier';
import { AUDIENCE, hs256WithPublicKey, ISSUER, makeKey, sign, standardClaims, unsecuredToken } from './helpers';
import type { TestKey } from './helpers';

async function expectReason(verifier: TokenVerifier, token: string, reason: TokenErrorReason): Promise<TokenError> {
  const err = await verifier.verify(token).then(
    () => {
      throw new Error('expected the token to be rejected');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenError);
  const tokenError = err as TokenError;
  expect(tokenError.reason).toBe(reason);
  // never echoes the token (nor any of its parts)
  for (const part of token.split('.').filter((p) => p.length > 8)) {
    expect(tokenError.message).not.toContain(part);
    expect(JSON.stringify({ ...tokenError, message: tokenError.message })).not.toContain(part);
  }
  return tokenError;
}

let es: TestKey;
let es2: TestKey;
let rs: TestKey;
let esVerifier: TokenVerifier;
let rsVerifier: TokenVerifier;

beforeAll(async () => {
  [es, es2, rs] = await Promise.all([makeKey('ES256'), makeKey('ES256'), makeKey('RS256')]);
  esVerifier = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, publicKey: es.publicKeyPem });
  rsVerifier = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, publicKey: rs.publicKeyPem });
});

describe('createTokenVerifier — valid tokens', () => {
  it('accepts an ES256 token signed by the configured PEM key', async () => {
    const result = await esVerifier.verify(await sign(es, { scope: 'payments:read  contracts:write' }));
    expect(result.subject).toBe('client-123');
    expect(result.scopes).toEqual(['payments:read', 'contracts:write']);
    expect(result.claims.iss).toBe(ISSUER);
  });

  it('accepts an RS256 token signed by the configured PEM key', async () => {
    const result = await rsVerifier.verify(await sign(rs));
    expect(result.subject).toBe('client-123');
    expect(result.scopes).toEqual(['payments:read', 'payments:write']);
  });

  it('accepts a configured public JWK (JSON string)', async () => {
    const verifier = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, publicKey: JSON.stringify(es.publicJwk) });
    expect((await verifier.verify(await sign(es))).subject).toBe('client-123');
  });

  it('accepts a PEM whose newlines arrive escaped as \\n (env var style)', async () => {
    const verifier = createTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      publicKey: es.publicKeyPem.trim().replace(/\n/g, '\\n'),
    });
    expect((await verifier.verify(await sign(es))).subject).toBe('client-123');
  });

  it('accepts an audience array containing the expected audience', async () => {
    expect((await esVerifier.verify(await sign(es, { audience: ['other', AUDIENCE] }))).subject).toBe('client-123');
  });

  it('tolerates clock skew within clockToleranceSeconds', async () => {
    await expect(esVerifier.verify(await sign(es, { expiresIn: -3 }))).resolves.toBeTruthy();
  });

  it('reads scopes from scp (array) when scope is absent', async () => {
    const token = await sign(es, { scope: null, claims: { scp: ['contracts:read', 'payments:read'] } });
    expect((await esVerifier.verify(token)).scopes).toEqual(['contracts:read', 'payments:read']);
  });

  it('returns no scopes when neither claim is present', async () => {
    expect((await esVerifier.verify(await sign(es, { scope: null }))).scopes).toEqual([]);
  });
});

describe('createTokenVerifier — rejected tokens', () => {
  it('rejects a token signed by another key (bad_signature)', async () => {
    await expectReason(esVerifier, await sign(es2, { kid: es.kid }), 'bad_signature');
  });

  it('rejects alg: none (bad_signature)', async () => {
    await expectReason(esVerifier, unsecuredToken(), 'bad_signature');
  });

  it('rejects HS256 signed with the public key text — algorithm confusion (bad_signature)', async () => {
    await expectReason(esVerifier, await hs256WithPublicKey(es.publicKeyPem), 'bad_signature');
    await expectReason(rsVerifier, await hs256WithPublicKey(rs.publicKeyPem), 'bad_signature');
  });

  it('rejects an RS256 token when the configured key is EC (bad_signature)', async () => {
    await expectReason(esVerifier, await sign(rs), 'bad_signature');
  });

  it('rejects an algorithm outside the pinned list even with the right key', async () => {
    const onlyRs = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], publicKey: rs.publicKeyPem });
    await expect(onlyRs.verify(await sign(rs))).resolves.toBeTruthy();
    const ecOnlyRs = () => createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'], publicKey: es.publicKeyPem });
    expect(ecOnlyRs).toThrow(TokenVerifierConfigError);
  });

  it('rejects an expired token (expired)', async () => {
    await expectReason(esVerifier, await sign(es, { expiresIn: -60 }), 'expired');
  });

  it('rejects a token without exp (claims)', async () => {
    const err = await expectReason(esVerifier, await sign(es, { expiresIn: null }), 'claims');
    expect(err.detail).toBe('exp');
  });

  it('rejects a token without sub (claims)', async () => {
    await expectReason(esVerifier, await sign(es, { subject: null }), 'claims');
  });

  it('rejects a token not yet valid (claims)', async () => {
    await expectReason(esVerifier, await sign(es, { claims: { nbf: Math.floor(Date.now() / 1000) + 600 } }), 'claims');
  });

  it('rejects the wrong issuer (claims)', async () => {
    const err = await expectReason(esVerifier, await sign(es, { issuer: 'https://evil.test' }), 'claims');
    expect(err.detail).toBe('iss');
    await expectReason(esVerifier, await sign(es, { issuer: null }), 'claims');
  });

  it('rejects the wrong audience (claims)', async () => {
    const err = await expectReason(esVerifier, await sign(es, { audience: 'someone-else' }), 'claims');
    expect(err.detail).toBe('aud');
    await expectReason(esVerifier, await sign(es, { audience: null }), 'claims');
  });

  it('rejects a scope claim of the wrong type (claims)', async () => {
    await expectReason(esVerifier, await sign(es, { claims: { scope: ['payments:read'] } }), 'claims');
  });

  it.each([
    ['empty', ''],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['junk segments', 'a.b.c'],
    ['bad characters', 'ey$.ey%.sig'],
    ['oversized', `${'a'.repeat(9000)}.b.c`],
  ])('rejects a malformed token (%s)', async (_name, token) => {
    await expectReason(esVerifier, token, 'malformed');
  });

  it('rejects a token whose header is not JSON (malformed)', async () => {
    const good = await sign(es);
    const [, payload, sig] = good.split('.');
    await expectReason(esVerifier, `${Buffer.from('not json').toString('base64url')}.${payload}.${sig}`, 'malformed');
  });

  it('rejects a tampered payload (bad_signature)', async () => {
    const good = await sign(es, { scope: 'payments:read' });
    const [header, , sig] = good.split('.');
    const forged = Buffer.from(JSON.stringify(standardClaims({ scope: 'payments:write' }))).toString('base64url');
    await expectReason(esVerifier, `${header}.${forged}.${sig}`, 'bad_signature');
  });
});

describe('createTokenVerifier — configuration', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE };

  it.each([['none'], ['HS256'], ['HS512'], ['es256'], ['']])('refuses to allow algorithm %j', (alg) => {
    expect(() => createTokenVerifier({ ...base, algorithms: [alg], publicKey: es.publicKeyPem })).toThrow(TokenVerifierConfigError);
  });

  it('requires issuer, audience and exactly one key source', () => {
    expect(() => createTokenVerifier({ ...base, issuer: '', publicKey: es.publicKeyPem })).toThrow(/issuer/);
    expect(() => createTokenVerifier({ ...base, audience: '', publicKey: es.publicKeyPem })).toThrow(/audience/);
    expect(() => createTokenVerifier({ ...base })).toThrow(/jwksUrl or a publicKey/);
    expect(() => createTokenVerifier({ ...base, publicKey: es.publicKeyPem, jwksUrl: 'https://x.test/jwks' })).toThrow(/not both/);
  });

  it('refuses unusable keys without echoing them', () => {
    expect(() => createTokenVerifier({ ...base, publicKey: 'not a key' })).toThrow(/neither a PEM public key nor a public JWK/);
    expect(() => createTokenVerifier({ ...base, publicKey: '{"kty":"oct","k":"c2VjcmV0"}' })).toThrow(/private or secret/);
    expect(() => createTokenVerifier({ ...base, publicKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' })).toThrow(/private key/);
  });

  it('refuses a plain-http JWKS URL unless it is loopback', () => {
    expect(() => createTokenVerifier({ ...base, jwksUrl: 'http://issuer.test/jwks' })).toThrow(/https/);
    expect(() => createTokenVerifier({ ...base, jwksUrl: 'http://127.0.0.1:1/jwks' })).not.toThrow();
    expect(() => createTokenVerifier({ ...base, jwksUrl: 'not a url' })).toThrow(/valid URL/);
  });
});

describe('scopesOf', () => {
  it('prefers scope over scp, splits on any whitespace and de-duplicates', () => {
    expect(scopesOf({ scope: ' a  b\ta ', scp: ['c'] })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: 'x y' })).toEqual(['x', 'y']);
    expect(() => scopesOf({ scp: [1] })).toThrow(TokenError);
  });
});
