import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuthorizerHandler, UNAUTHORIZED_MESSAGE } from '../../../shared/auth/authorizer';
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
  const handler = createAuthorizerHandler({ getVerifier, log: (line) => lines.push(line) });
  return { handler, lines, getVerifier };
}

type Outcome = { status: 401 } | { status: 403; result: AuthorizerResult } | { status: 200; result: AuthorizerResult };

/** What API Gateway / serverless-offline would answer for this handler outcome (simple responses). */
async function outcome(handler: (e: AuthorizerEvent) => Promise<AuthorizerResult>, e: AuthorizerEvent): Promise<Outcome> {
  try {
    const result = await handler(e);
    return result.isAuthorized ? { status: 200, result } : { status: 403, result };
  } catch (err) {
    expect((err as Error).message).toBe(UNAUTHORIZED_MESSAGE);
    return { status: 401 };
  }
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
    expect(result).toEqual({ isAuthorized: true, context: { sub: 'client-123', scopes: 'payments:write contracts:read' } });
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

describe('authorizer handler — 401 (no token)', () => {
  it.each([
    ['no header', {}],
    ['headers: null (offline with no headers)', null],
    ['empty header (offline invokes the function with "")', { Authorization: '' }],
    ['whitespace header', { authorization: '   ' }],
    ['"Bearer" without a token', { authorization: 'Bearer' }],
    ['"Bearer " with only spaces', { authorization: 'Bearer    ' }],
  ])('%s → throws Unauthorized', async (_name, headers) => {
    const { handler, lines } = setup();
    await expect(handler(event('POST /h5-orders', headers as Record<string, string> | null))).rejects.toThrow(
      new Error('Unauthorized'),
    );
    expect(logged(lines)).toMatchObject({ reason: 'no_token', status: 401, route: 'POST /h5-orders', requestId: 'req-1' });
  });
});

describe('authorizer handler — 403 (denied)', () => {
  async function expectDenied(e: AuthorizerEvent, reason: string, token?: string) {
    const { handler, lines } = setup();
    const r = await outcome(handler, e);
    expect(r).toEqual({ status: 403, result: { isAuthorized: false, context: { sub: '', scopes: '' } } });
    const line = logged(lines);
    expect(line).toMatchObject({ reason, status: 403, route: e.routeKey });
    if (token) {
      for (const part of token.split('.').filter((p) => p.length > 8)) expect(lines[0]).not.toContain(part);
    }
    return line;
  }

  it.each([
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a bare token without scheme', 'eyJhbGciOiJFUzI1NiJ9.e30.sig'],
    ['a token with inner whitespace', 'Bearer abc def'],
    ['a "Bearer:" prefix', 'Bearer:abc'],
  ])('malformed header: %s', async (_name, value) => {
    await expectDenied(event('POST /h5-orders', { authorization: value }), 'malformed_header');
  });

  it('conflicting duplicate Authorization headers', async () => {
    const token = await sign(key);
    await expectDenied(event('POST /h5-orders', { Authorization: `Bearer ${token}`, authorization: 'Bearer other.token.x' }), 'malformed_header');
  });

  it('a malformed JWT', async () => {
    await expectDenied(event('POST /h5-orders', { authorization: 'Bearer not-a-jwt' }), 'malformed');
  });

  it('a token signed by another key', async () => {
    const token = await sign(otherKey, { kid: key.kid });
    await expectDenied(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'bad_signature', token);
  });

  it('an alg: none token', async () => {
    const token = unsecuredToken();
    await expectDenied(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'bad_signature', token);
  });

  it('an HS256 token signed with the public key text (algorithm confusion)', async () => {
    const token = await hs256WithPublicKey(key.publicKeyPem);
    await expectDenied(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'bad_signature', token);
  });

  it('an expired token', async () => {
    const token = await sign(key, { expiresIn: -120 });
    await expectDenied(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'expired', token);
  });

  it('the wrong issuer', async () => {
    const token = await sign(key, { issuer: 'https://evil.test' });
    const line = await expectDenied(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'claims', token);
    expect(line.detail).toBe('iss');
  });

  it('the wrong audience', async () => {
    const token = await sign(key, { audience: 'another-api' });
    const line = await expectDenied(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'claims', token);
    expect(line.detail).toBe('aud');
  });

  it('a valid token missing the route scope (logs sub and the required scope)', async () => {
    const token = await sign(key, { scope: 'payments:read contracts:write' });
    const line = await expectDenied(event('POST /h5-orders', { authorization: `Bearer ${token}` }), 'insufficient_scope', token);
    expect(line).toMatchObject({ sub: 'client-123', required: 'payments:write' });
  });

  it.each(['GET /h5-orders', 'DELETE /h5-orders/{out_trade_no}', '$default', 'POST /notify/payments'])(
    'an unknown route %j, even with every scope',
    async (route) => {
      const token = await sign(key, { scope: 'payments:read payments:write contracts:read contracts:write' });
      await expectDenied(event(route, { authorization: `Bearer ${token}` }), 'unknown_route', token);
    },
  );

  it('a missing routeKey', async () => {
    const token = await sign(key);
    const e = event('POST /h5-orders', { authorization: `Bearer ${token}` });
    delete (e as { routeKey?: string }).routeKey;
    const { handler } = setup();
    expect((await outcome(handler, e)).status).toBe(403);
  });

  it('a verifier that fails unexpectedly', async () => {
    const broken: TokenVerifier = { verify: () => Promise.reject(new RangeError('boom')) };
    const { handler, lines } = setup({ getVerifier: () => broken });
    const r = await outcome(handler, event('POST /h5-orders', { authorization: 'Bearer a.b.c' }));
    expect(r.status).toBe(403);
    expect(logged(lines)).toMatchObject({ reason: 'verifier_error' });
  });
});

describe('authorizer handler — configuration', () => {
  it('rethrows a configuration error (not as "Unauthorized") and logs it', async () => {
    const { handler, lines } = setup({
      getVerifier: () => {
        throw new Error('JWT_ISSUER is not set');
      },
    });
    await expect(handler(event('POST /h5-orders', { authorization: 'Bearer a.b.c' }))).rejects.toThrow('JWT_ISSUER is not set');
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
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { handler } = await import('../../../functions/authorizer/handler');
    expect(created).not.toHaveBeenCalled(); // lazy: nothing at import

    const token = await sign(key, { scope: 'payments:read' });
    for (let i = 0; i < 3; i += 1) {
      expect((await handler(event('GET /contract-orders/{out_trade_no}', { authorization: `Bearer ${token}` }))).isAuthorized).toBe(true);
    }
    const denied = await handler(event('POST /contract-orders', { authorization: `Bearer ${token}` }));
    expect(denied.isAuthorized).toBe(false);
    expect(created).toHaveBeenCalledTimes(1);

    // one JSON line for the denial, without the token
    expect(log).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[0]?.[0]);
    expect(JSON.parse(line)).toMatchObject({ reason: 'insufficient_scope', route: 'POST /contract-orders' });
    expect(line).not.toContain(token.split('.')[2]);
  });

  it('fails with a message naming the missing variable', async () => {
    delete process.env.JWT_ISSUER;
    process.env.JWT_AUDIENCE = AUDIENCE;
    process.env.JWT_PUBLIC_KEY = key.publicKeyPem;
    vi.resetModules();
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const { handler } = await import('../../../functions/authorizer/handler');
    await expect(handler(event('POST /h5-orders', { authorization: 'Bearer a.b.c' }))).rejects.toThrow(/JWT_ISSUER/);
  });
});
