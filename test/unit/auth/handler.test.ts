import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuthorizerHandler } from '../../../shared/auth/authorizer';
import { refusalFor } from '../../../shared/auth/verdict';
import type { AuthorizerEvent, AuthorizerResult } from '../../../shared/auth/authorizer';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import { AUDIENCE, hs256WithPublicKey, ISSUER, makeKey, sign, unsecuredToken } from './helpers';
import type { TestKey } from './helpers';

let key: TestKey;
let otherKey: TestKey;
let verifier: TokenVerifier;

beforeAll(async () => {
  [key, otherKey] = await Promise.all([makeKey('ES256'), makeKey('ES256')]);
  verifier = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, publicKey: key.publicKeyPem });
});

/** An authorizer event as API Gateway sends it (lower-case headers) unless overridden. */
function event(routeKey: string, headers: Record<string, string> | null, identitySource?: string[]): AuthorizerEvent {
  const auth = headers ? Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1] : undefined;
  return {
    version: '2.0',
    type: 'REQUEST',
    routeKey,
    routeArn: `arn:aws:execute-api:ap-east-1:123456789012:abc/$default/${routeKey.replace(' ', '')}`,
    identitySource: identitySource ?? (auth === undefined ? [] : [auth]),
    headers,
    requestContext: { requestId: 'req-1', routeKey },
  } as unknown as AuthorizerEvent;
}

function setup(overrides: { getVerifier?: () => TokenVerifier } = {}) {
  const lines: string[] = [];
  const getVerifier = vi.fn(overrides.getVerifier ?? (() => verifier));
  const handler = createAuthorizerHandler({ getVerifier, log: (message, fields) => lines.push(JSON.stringify({ message, ...fields })) });
  return { handler, lines, getVerifier };
}

type Outcome =
  | { status: 'gateway-403'; result: AuthorizerResult }
  | { status: 200; result: AuthorizerResult }
  | { status: number; code: string; result: AuthorizerResult };

/**
 * What the caller gets for this authorizer result: a gateway 403 when denied outright (unknown routes only), else
 * the handler wrapper's answer to the verdict (shared/auth/verdict.ts `refusalFor`), or 200 when allowed.
 */
async function outcome(handler: (e: AuthorizerEvent) => Promise<AuthorizerResult>, e: AuthorizerEvent): Promise<Outcome> {
  const result = await handler(e);
  if (!result.isAuthorized) return { status: 'gateway-403', result };
  const refusal = refusalFor(result.context);
  return refusal ? { status: refusal.status, code: refusal.code, result } : { status: 200, result };
}

function logged(lines: string[]): Record<string, unknown> {
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] as string) as Record<string, unknown>;
}

describe('authorizer handler — allowed', () => {
  it('allows a valid token with the route scope and passes sub and scopes as context', async () => {
    const { handler, lines } = setup();
    const token = await sign(key, { scope: 'payments:write contracts:read' });
    const result = await handler(event('POST /h5-orders', { authorization: `Bearer ${token}` }));
    expect(result).toEqual({
      isAuthorized: true,
      context: { verdict: 'allow', sub: 'client-123', scopes: 'payments:write contracts:read', reason: '', claim: '', required: '' },
    });
    expect(refusalFor(result.context)).toBeUndefined();
    expect(lines).toEqual([]);
  });

  it.each(['Authorization', 'AUTHORIZATION', 'authorization'])('reads the %s header case-insensitively (serverless-offline keeps the case)', async (name) => {
    const { handler } = setup();
    const token = await sign(key, { scope: 'payments:read' });
    const r = await outcome(handler, event('GET /h5-orders/{out_trade_no}', { [name]: `bearer ${token}` }));
    expect(r.status).toBe(200);
  });

  it('falls back to identitySource when headers are absent', async () => {
    const { handler } = setup();
    const token = await sign(key, { scope: 'contracts:write' });
    const r = await outcome(handler, event('POST /repayment-contracts', null, [`Bearer ${token}`]));
    expect(r.status).toBe(200);
  });

  it('creates (gets) the verifier only when a token needs verifying', async () => {
    const { handler, getVerifier } = setup();
    await outcome(handler, event('POST /h5-orders', {}));
    await outcome(handler, event('POST /h5-orders', { authorization: 'Basic abc' }));
    await outcome(handler, event('GET /unknown', { authorization: 'Bearer a.b.c' }));
    expect(getVerifier).not.toHaveBeenCalled();
  });
});

describe('authorizer handler — TOKEN_MISSING (401 from the handler, not a bare gateway 401)', () => {
  it.each([
    ['no header', {}],
    ['headers: null (offline with no headers)', null],
    ['empty header (offline invokes the function with "")', { Authorization: '' }],
    ['whitespace header', { authorization: '   ' }],
    ['"Bearer" without a token', { authorization: 'Bearer' }],
    ['"Bearer " with only spaces', { authorization: 'Bearer    ' }],
  ])('%s → allowed through with the TOKEN_MISSING verdict', async (_name, headers) => {
    const { handler, lines } = setup();
    const r = await outcome(handler, event('POST /h5-orders', headers as Record<string, string> | null));
    expect(r).toMatchObject({ status: 401, code: 'TOKEN_MISSING' });
    expect(logged(lines)).toMatchObject({ reason: 'no_token', status: 401, route: 'POST /h5-orders', requestId: 'req-1' });
  });
});

describe('authorizer handler — refusals, each with its own code', () => {
  async function expectRefused(e: AuthorizerEvent, reason: string, expected: { status: number; code: string }, token?: string) {
    const { handler, lines } = setup();
    const r = await outcome(handler, e);
    expect(r).toMatchObject(expected);
    expect(r.result.context).toMatchObject({ verdict: expected.code, sub: reason === 'insufficient_scope' ? 'client-123' : '', scopes: '', reason });
    const line = logged(lines);
    expect(line).toMatchObject({ reason, status: expected.status, route: e.routeKey });
    if (token) {
      for (const part of token.split('.').filter((p) => p.length > 8)) {
        expect(lines[0]).not.toContain(part);
        expect(JSON.stringify(r.result.context)).not.toContain(part);
      }
    }
    return { line, result: r.result };
  }
  const INVALID = { status: 401, code: 'TOKEN_INVALID' };

  it.each([
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a bare token without scheme', 'eyJhbGciOiJFUzI1NiJ9.e30.sig'],
    ['a token with inner whitespace', 'Bearer abc def'],
    ['a "Bearer:" prefix', 'Bearer:abc'],
  ])('malformed header: %s', async (_name, value) => {
    await expectRefused(event('POST /h5-orders', { authorization: value }), 'malformed_header', INVALID);
  });

  it('conflicting duplicate Authorization headers', async () => {
    const token = await sign(key);
    await expectRefused(event('POST /h5-orders', { Authorization: `Bearer ${token}`, authorization: 'Bearer other.token.x' }), 'malformed_header', INVALID);
  });

  it('a malformed JWT', async () => {
    await expectRefused(event('POST /h5-orders', { authorization: 'Bearer not-a-jwt' }), 'malformed', INVALID);
  });

  it('a token signed by another key', async () => {
    const token = await sign(otherKey, { kid: key.kid });
    await expectRefused(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'bad_signature', INVALID, token);
  });

  it('an alg: none token', async () => {
    const token = unsecuredToken();
    await expectRefused(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'bad_signature', INVALID, token);
  });

  it('an HS256 token signed with the public key text (algorithm confusion)', async () => {
    const token = await hs256WithPublicKey(key.publicKeyPem);
    await expectRefused(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'bad_signature', INVALID, token);
  });

  it('an expired token → TOKEN_EXPIRED, distinguishable from every other refusal', async () => {
    const token = await sign(key, { expiresIn: -120 });
    await expectRefused(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'expired', { status: 401, code: 'TOKEN_EXPIRED' }, token);
  });

  it('the wrong issuer names the claim', async () => {
    const token = await sign(key, { issuer: 'https://evil.test' });
    const { line, result } = await expectRefused(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'claims', INVALID, token);
    expect(line.detail).toBe('iss');
    expect(refusalFor(result.context)).toMatchObject({ extra: { claim: 'iss' }, detail: "the token's iss claim is not accepted" });
  });

  it('the wrong audience names the claim', async () => {
    const token = await sign(key, { audience: 'another-api' });
    const { line, result } = await expectRefused(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'claims', INVALID, token);
    expect(line.detail).toBe('aud');
    expect(result.context.claim).toBe('aud');
  });

  it('a valid token missing the route scope → 403 INSUFFICIENT_SCOPE naming the scope (logs sub and the required scope)', async () => {
    const token = await sign(key, { scope: 'payments:read contracts:write' });
    const { line, result } = await expectRefused(
      event('POST /h5-orders', { authorization: `Bearer ${token}` }),
      'insufficient_scope',
      { status: 403, code: 'INSUFFICIENT_SCOPE' },
      token,
    );
    expect(line).toMatchObject({ sub: 'client-123', required: 'payments:write' });
    expect(refusalFor(result.context)).toMatchObject({ extra: { required_scope: 'payments:write' } });
  });

  it('a verifier that fails unexpectedly', async () => {
    const broken: TokenVerifier = { verify: () => Promise.reject(new RangeError('boom')) };
    const { handler, lines } = setup({ getVerifier: () => broken });
    const r = await outcome(handler, event('POST /h5-orders', { authorization: 'Bearer a.b.c' }));
    expect(r).toMatchObject(INVALID);
    expect(logged(lines)).toMatchObject({ reason: 'verifier_error', status: 401 });
  });

  it('a JWKS that cannot be fetched → 503 AUTH_UNAVAILABLE (our outage, not a bad token)', async () => {
    const { TokenError } = await import('../../../shared/auth/verifier');
    const down: TokenVerifier = { verify: () => Promise.reject(new TokenError('no_key', 'jwks unavailable')) };
    const { handler } = setup({ getVerifier: () => down });
    expect(await outcome(handler, event('POST /h5-orders', { authorization: 'Bearer a.b.c' }))).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
  });
});

describe('authorizer handler — unknown routes fail closed at the gateway', () => {
  it.each(['GET /h5-orders', 'DELETE /h5-orders/{out_trade_no}', '$default', 'POST /notify/payments'])(
    'an unknown route %j, even with every scope',
    async (route) => {
      const token = await sign(key, { scope: 'payments:read payments:write contracts:read contracts:write' });
      const { handler, lines } = setup();
      const r = await outcome(handler, event(route, { authorization: `Bearer ${token}` }));
      expect(r).toMatchObject({ status: 'gateway-403', result: { isAuthorized: false } });
      expect(refusalFor(r.result.context)).toBeDefined();
      expect(logged(lines)).toMatchObject({ reason: 'unknown_route', status: 403 });
    },
  );

  it('an unknown route without any token is still denied outright', async () => {
    const { handler } = setup();
    expect((await outcome(handler, event('GET /whatever', {}))).status).toBe('gateway-403');
  });

  it('a missing routeKey', async () => {
    const token = await sign(key);
    const e = event('POST /h5-orders', { authorization: `Bearer ${token}` });
    delete (e as { routeKey?: string }).routeKey;
    const { handler } = setup();
    expect((await outcome(handler, e)).status).toBe('gateway-403');
  });
});

describe('authorizer handler — configuration', () => {
  it('answers a configuration error as MISCONFIGURED (500 from the handler) and logs the variable', async () => {
    const { handler, lines } = setup({
      getVerifier: () => {
        throw new Error('JWT_ISSUER is not set');
      },
    });
    const r = await outcome(handler, event('POST /h5-orders', { authorization: 'Bearer a.b.c' }));
    expect(r).toMatchObject({ status: 500, code: 'MISCONFIGURED' });
    expect(JSON.stringify(r.result.context)).not.toContain('JWT_ISSUER');
    expect(logged(lines)).toMatchObject({ reason: 'config_error', status: 500, detail: 'JWT_ISSUER is not set' });
  });
});

describe('exported handler (environment, module scope)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    vi.doUnmock('../../../shared/auth/verifier');
    vi.resetModules();
    vi.restoreAllMocks();
  });

  it('builds the verifier from JWT_* once per container and reuses it', async () => {
    process.env.JWT_ISSUER = ISSUER;
    process.env.JWT_AUDIENCE = AUDIENCE;
    process.env.JWT_PUBLIC_KEY = key.publicKeyPem;
    delete process.env.JWT_JWKS_URL;
    vi.resetModules();
    const created = vi.fn();
    vi.doMock('../../../shared/auth/verifier', async (importOriginal) => {
      const original = await importOriginal<typeof import('../../../shared/auth/verifier')>();
      return {
        ...original,
        createTokenVerifier: (...args: Parameters<typeof original.createTokenVerifier>) => {
          created();
          return original.createTokenVerifier(...args);
        },
      };
    });
    // Powertools writes through the global console in dev mode (as vitest.config.ts sets for every test).
    process.env.POWERTOOLS_DEV = 'true';
    const log = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { handler } = await import('../../../functions/authorizer/handler');
    expect(created).not.toHaveBeenCalled(); // lazy: nothing at import

    const token = await sign(key, { scope: 'payments:read' });
    for (let i = 0; i < 3; i += 1) {
      expect((await handler(event('GET /contract-orders/{out_trade_no}', { authorization: `Bearer ${token}` }))).isAuthorized).toBe(true);
    }
    const denied = await handler(event('POST /contract-orders', { authorization: `Bearer ${token}` }));
    expect(denied.context.verdict).toBe('INSUFFICIENT_SCOPE');
    expect(created).toHaveBeenCalledTimes(1);

    // one log entry for the denial, in the Powertools shape every other function logs, without the token
    expect(log).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[0]?.[0]);
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'WARN', message: 'authorizer denied', reason: 'insufficient_scope', route: 'POST /contract-orders' });
    expect(entry).toHaveProperty('service');
    expect(entry).toHaveProperty('timestamp');
    expect(entry).not.toHaveProperty('msg');
    expect(line).not.toContain(token.split('.')[2]);
  });

  it('answers MISCONFIGURED and logs a message naming the missing variable', async () => {
    delete process.env.JWT_ISSUER;
    process.env.JWT_AUDIENCE = AUDIENCE;
    process.env.JWT_PUBLIC_KEY = key.publicKeyPem;
    vi.resetModules();
    process.env.POWERTOOLS_DEV = 'true';
    const log = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { handler } = await import('../../../functions/authorizer/handler');
    expect((await handler(event('POST /h5-orders', { authorization: 'Bearer a.b.c' }))).context.verdict).toBe('MISCONFIGURED');
    expect(JSON.parse(String(log.mock.calls[0]?.[0]))).toMatchObject({ level: 'WARN', reason: 'config_error', detail: expect.stringMatching(/JWT_ISSUER/) });
  });
});
