import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAuthorizerHandler } from '../../../shared/auth/authorizer';
import { createTokenVerifier, TokenError } from '../../../shared/auth/verifier';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import { AUDIENCE, hs256WithPublicKey, ISSUER, makeKey, sign, unsecuredToken } from './helpers';
import type { TestKey } from './helpers';

let server: Server;
let jwksUrl: string;
let served: JWK[] = [];
let status = 200;
let fetches = 0;

let keyA: TestKey;
let keyB: TestKey;
let rsaKey: TestKey;
let stranger: TestKey;

beforeAll(async () => {
  [keyA, keyB, rsaKey, stranger] = await Promise.all([
    makeKey('ES256', 'key-a'),
    makeKey('ES256', 'key-b'),
    makeKey('RS256', 'key-rsa'),
    makeKey('ES256', 'key-a'), // same kid as A, different key material
  ]);
  server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches += 1;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  jwksUrl = `http://127.0.0.1:${port}/.well-known/jwks.json`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  served = [keyA.publicJwk, rsaKey.publicJwk];
  status = 200;
  fetches = 0;
});

function jwksVerifier(cooldownDuration = 0): TokenVerifier {
  return createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, jwks: { cooldownDuration } });
}

async function reason(verifier: TokenVerifier, token: string): Promise<string> {
  try {
    await verifier.verify(token);
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(TokenError);
    return (err as TokenError).reason;
  }
}

describe('JWKS URL mode', () => {
  it('verifies ES256 and RS256 tokens by kid and caches the key set across calls', async () => {
    const verifier = jwksVerifier(30_000);
    expect((await verifier.verify(await sign(keyA))).subject).toBe('client-123');
    expect((await verifier.verify(await sign(rsaKey))).subject).toBe('client-123');
    expect((await verifier.verify(await sign(keyA))).subject).toBe('client-123');
    expect(fetches).toBe(1);
  });

  it('picks up a rotated-in key (new kid) by refetching', async () => {
    const verifier = jwksVerifier();
    expect(await reason(verifier, await sign(keyA))).toBe('accepted');
    expect(fetches).toBe(1);

    served = [keyB.publicJwk]; // rotation: A retired, B introduced
    expect(await reason(verifier, await sign(keyB))).toBe('accepted');
    expect(fetches).toBe(2);
    expect(await reason(verifier, await sign(keyB))).toBe('accepted');
    expect(fetches).toBe(2); // cached again
    // A was dropped from the set: its tokens no longer verify
    expect(await reason(verifier, await sign(keyA))).toBe('no_key');
  });

  it('does not refetch more than once per cooldown for unknown kids', async () => {
    const verifier = jwksVerifier(60_000);
    expect(await reason(verifier, await sign(keyA))).toBe('accepted');
    expect(await reason(verifier, await sign(keyB))).toBe('no_key');
    expect(await reason(verifier, await sign(keyB))).toBe('no_key');
    expect(fetches).toBe(1);
  });

  it('rejects an unknown kid (no_key) and a forged key reusing a known kid (bad_signature)', async () => {
    const verifier = jwksVerifier();
    expect(await reason(verifier, await sign(keyB))).toBe('no_key');
    expect(await reason(verifier, await sign(stranger))).toBe('bad_signature');
  });

  it('rejects alg: none and HS256 signed with a published key (bad_signature)', async () => {
    const verifier = jwksVerifier();
    expect(await reason(verifier, unsecuredToken())).toBe('bad_signature');
    expect(await reason(verifier, await hs256WithPublicKey(JSON.stringify(keyA.publicJwk)))).toBe('bad_signature');
    expect(await reason(verifier, await hs256WithPublicKey(keyA.publicKeyPem))).toBe('bad_signature');
    expect(fetches).toBe(0); // refused before any key lookup
  });

  it('treats an unavailable JWKS endpoint as no_key', async () => {
    status = 503;
    expect(await reason(jwksVerifier(), await sign(keyA))).toBe('no_key');
    const down = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: 'http://127.0.0.1:1/jwks', jwks: { timeoutDuration: 1000 } });
    expect(await reason(down, await sign(keyA))).toBe('no_key');
  });

  it('still checks issuer, audience and expiry', async () => {
    const verifier = jwksVerifier();
    expect(await reason(verifier, await sign(keyA, { issuer: 'https://evil.test' }))).toBe('claims');
    expect(await reason(verifier, await sign(keyA, { audience: 'other' }))).toBe('claims');
    expect(await reason(verifier, await sign(keyA, { expiresIn: -60 }))).toBe('expired');
  });

  it('drives the authorizer handler end to end', async () => {
    const verifier = jwksVerifier();
    const lines: string[] = [];
    const handler = createAuthorizerHandler({ getVerifier: () => verifier, log: (message, fields) => lines.push(JSON.stringify({ message, ...fields })) });
    const mk = (routeKey: string, token: string) =>
      ({ routeKey, headers: { Authorization: `Bearer ${token}` }, identitySource: [`Bearer ${token}`], requestContext: {} }) as never;

    served = [keyA.publicJwk, keyB.publicJwk];
    const ok = await handler(mk('GET /repayment-contracts/{out_contract_code}', await sign(keyB, { scope: 'contracts:read' })));
    expect(ok).toMatchObject({ isAuthorized: true, context: { verdict: 'allow', sub: 'client-123', scopes: 'contracts:read' } });
    const denied = await handler(mk('POST /repayment-contracts', await sign(keyB, { scope: 'contracts:read' })));
    expect(denied.context).toMatchObject({ verdict: 'INSUFFICIENT_SCOPE', required: 'contracts:write' });
    expect(lines.map((l) => JSON.parse(l).reason)).toEqual(['insufficient_scope']);
  });
});
