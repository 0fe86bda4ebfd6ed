import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidSignatureError,
  MalformedResponseError,
  MissingHeaderError,
  ResponseVerificationError,
  SignatureProbeError,
  TimestampOutOfWindowError,
  UnknownSerialError,
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayV3Client,
  type WechatPayV3ClientOptions,
  publicKeyFrom,
} from '../../../shared/wechatpay/index';
import { type LocalServer, type RecordedRequest, refusedUrl, startServer } from './local-server';
import { MERCHANT_CERTIFICATE_PEM, MERCHANT_PRIVATE_KEY_PEM, generateRsaKeyPair, peer, wechatpaySignedHeaders } from './support';

const MCHID = '1900000001';
const MERCHANT_SERIAL = '5F1C72E2A8931B72A2E13AF8DEE92471EB397115';
const WECHAT_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000';
const wechat = generateRsaKeyPair();
const merchantPublicKey = publicKeyFrom(MERCHANT_CERTIFICATE_PEM);

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(handler: Parameters<typeof startServer>[0]): Promise<LocalServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

/** What WeChat checks: the Authorization header, recomputed by the peer library over what arrived. */
function authorizationValid(request: RecordedRequest): boolean {
  const header = String(request.headers.authorization ?? '');
  const match = /^WECHATPAY2-SHA256-RSA2048 mchid="(\d+)",nonce_str="(\w+)",timestamp="(\d+)",serial_no="(\w+)",signature="([^"]+)"$/.exec(header);
  if (match === null) return false;
  const [, mchid, nonce, timestamp, serial, signature] = match as unknown as string[];
  const message = peer.Formatter.request(request.method, request.url, timestamp as string, nonce as string, request.body.toString('utf8'));
  return mchid === MCHID && serial === MERCHANT_SERIAL && peer.Rsa.verify(message, signature as string, merchantPublicKey);
}

function reply(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}, sign = true): void {
  const headers: Record<string, string> = { 'Request-ID': `req-${status}`, ...extra };
  if (body !== '') headers['Content-Type'] = 'application/json';
  if (sign) {
    Object.assign(
      headers,
      wechatpaySignedHeaders({ body, privateKey: wechat.privateKey, serial: WECHAT_KEY_ID, timestamp: Math.floor(Date.now() / 1000) }),
      extra,
    );
  }
  res.writeHead(status, headers).end(body);
}

function client(baseUrls: string[], overrides: Partial<WechatPayV3ClientOptions> = {}): WechatPayV3Client {
  return new WechatPayV3Client({
    mchid: MCHID,
    serialNo: MERCHANT_SERIAL,
    privateKey: MERCHANT_PRIVATE_KEY_PEM,
    verifierKeys: { [WECHAT_KEY_ID]: wechat.publicPem },
    baseUrls,
    timeoutMs: 2000,
    sleep: async () => {},
    ...overrides,
  });
}

const ORDER = { appid: 'wx8888888888888888', mchid: MCHID, description: 'Image形象店-深圳腾大-QQ公仔', out_trade_no: 'H5ORDER0001', amount: { total: 1 } };

describe('WechatPayV3Client', () => {
  it('signs the request as WeChat checks it and returns the verified, parsed response', async () => {
    const main = await server((req, res) => reply(res, authorizationValid(req) ? 200 : 401, authorizationValid(req) ? '{"h5_url":"https://wx.tenpay.com/x"}' : '{"code":"SIGN_ERROR","message":"签名错误"}'));
    const result = await client([main.url]).request<{ h5_url: string }>({ method: 'POST', path: '/v3/pay/transactions/h5', body: ORDER });
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ h5_url: 'https://wx.tenpay.com/x' });
    expect(result.rawBody).toBe('{"h5_url":"https://wx.tenpay.com/x"}');
    expect(result.requestId).toBe('req-200');
    expect(result.attempts).toBe(1);
    expect(result.baseUrl).toBe(main.url);
    expect(result.headers['request-id']).toBe('req-200');

    const [sent] = main.requests;
    expect(sent?.body.toString('utf8')).toBe(JSON.stringify(ORDER));
    expect(sent?.headers.accept).toBe('application/json');
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.headers['user-agent']).toMatch(/^wechatpay-serverless\/\d+\.\d+\.\d+ \(node \d+\.\d+\.\d+; /);
    // Defaults to the preferred WeChat Pay key id, so responses are signed with a key we hold.
    expect(sent?.headers['wechatpay-serial']).toBe(WECHAT_KEY_ID);
  });

  it('signs the query string as sent, and verifies an empty 204 body', async () => {
    const main = await server((req, res) => reply(res, authorizationValid(req) ? 204 : 401, ''));
    const result = await client([main.url], { wechatpaySerial: false }).request({
      method: 'GET',
      path: '/v3/credit-repayment/partner/schedule-records/DeductOrder123456',
      query: { contract_id: '20251105000000123456789', note: 'a b&c', skip: undefined },
    });
    expect(result.status).toBe(204);
    expect(result.data).toBeUndefined();
    expect(result.rawBody).toBe('');
    expect(main.requests[0]?.url).toBe('/v3/credit-repayment/partner/schedule-records/DeductOrder123456?contract_id=20251105000000123456789&note=a+b%26c');
    expect(main.requests[0]?.headers['wechatpay-serial']).toBeUndefined();
  });

  it('sends a per-request Wechatpay-Serial and string bodies verbatim', async () => {
    const main = await server((req, res) => reply(res, authorizationValid(req) ? 200 : 401, '{}'));
    const body = '{"b":1,  "a":"中"}';
    await client([main.url]).request({ method: 'POST', path: '/v3/x', body, wechatpaySerial: 'PUB_KEY_ID_OTHER' });
    expect(main.requests[0]?.headers['wechatpay-serial']).toBe('PUB_KEY_ID_OTHER');
    expect(main.requests[0]?.body.toString('utf8')).toBe(body);
  });

  it('retries 500s with backoff, then succeeds; body bytes identical, Authorization fresh per attempt', async () => {
    const main = await server((req, res, i) =>
      i < 2 ? reply(res, 500, '{"code":"SYSTEM_ERROR","message":"系统错误"}') : reply(res, authorizationValid(req) ? 200 : 401, '{"ok":true}'),
    );
    const delays: number[] = [];
    const result = await client([main.url], {
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.999,
      backoff: { baseMs: 100, maxMs: 150 },
    }).request({ method: 'POST', path: '/v3/pay/transactions/h5', body: ORDER });
    expect(result.data).toEqual({ ok: true });
    expect(result.attempts).toBe(3);
    expect(main.requests).toHaveLength(3);
    const bodies = main.requests.map((r) => r.body.toString('hex'));
    expect(new Set(bodies).size).toBe(1);
    expect(main.requests.every(authorizationValid)).toBe(true);
    expect(new Set(main.requests.map((r) => r.headers.authorization)).size).toBe(3);
    // full jitter under an exponential ceiling: < 100, then < min(150, 200)
    expect(delays).toEqual([99, 149]);
  });

  it('gives up after maxAttempts 5xx with a retriable WechatPayApiError', async () => {
    const main = await server((_req, res) => reply(res, 503, '{"code":"SERVICE_UNAVAILABLE","message":"稍后再试"}', {}, false));
    const error = await client([main.url]).request({ method: 'POST', path: '/v3/x', body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE', message: '稍后再试', retriable: true, attempts: 3, baseUrl: main.url });
    expect(main.requests).toHaveLength(3);
  });

  it('does not retry a 400 and surfaces the error body', async () => {
    const errorBody = { code: 'PARAM_ERROR', message: '参数错误', detail: { field: 'amount.total', value: 0, issue: 'must be > 0', location: 'body' } };
    const main = await server((_req, res) => reply(res, 400, JSON.stringify(errorBody), { 'Request-ID': 'abc-123' }, false));
    const error = await client([main.url]).request({ method: 'POST', path: '/v3/x', body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ status: 400, code: 'PARAM_ERROR', message: '参数错误', detail: errorBody.detail, requestId: 'abc-123', retriable: false, attempts: 1 });
    expect(main.requests).toHaveLength(1);
  });

  it('surfaces 429 without retrying, marked retriable', async () => {
    const main = await server((_req, res) => reply(res, 429, '{"code":"FREQUENCY_LIMITED","message":"频率超限"}', {}, false));
    const error = await client([main.url]).request({ method: 'GET', path: '/v3/x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, code: 'FREQUENCY_LIMITED', retriable: true, attempts: 1 });
    expect(main.requests).toHaveLength(1);
  });

  it('tolerates non-JSON error bodies', async () => {
    const main = await server((_req, res) => res.writeHead(502, { 'Content-Type': 'text/html' }).end('<html>Bad Gateway</html>'));
    const error = await client([main.url], { maxAttempts: 1 }).request({ method: 'GET', path: '/v3/x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ status: 502, code: 'HTTP_502', retriable: true });
    expect((error as Error).message).toContain('Bad Gateway');
  });

  it('times out each attempt, retries, then throws WechatPayTransportError(timeout)', async () => {
    const main = await server(() => {
      /* never answers */
    });
    const started = Date.now();
    const error = await client([main.url], { timeoutMs: 150, maxAttempts: 2 }).request({ method: 'POST', path: '/v3/x', body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ kind: 'timeout', code: 'TRANSPORT_TIMEOUT', retriable: true, attempts: 2, baseUrl: main.url });
    expect(main.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('recovers when only the first attempt times out', async () => {
    const main = await server((req, res, i) => {
      if (i > 0) reply(res, authorizationValid(req) ? 200 : 401, '{"ok":1}');
    });
    // Generous: the second attempt must complete (sign, serve, verify) inside it on a loaded machine.
    const result = await client([main.url], { timeoutMs: 600 }).request({ method: 'GET', path: '/v3/x' });
    expect(result.attempts).toBe(2);
    expect(result.baseUrl).toBe(main.url);
  });

  it('fails over to the backup domain when the main one refuses connections, and stays there', async () => {
    const main = await refusedUrl();
    const backup = await server((req, res, i) => (i === 0 ? reply(res, 500, '{"code":"SYSTEM_ERROR","message":"x"}') : reply(res, authorizationValid(req) ? 200 : 401, '{"ok":2}')));
    const events: unknown[] = [];
    const result = await client([main, backup.url], { onAttempt: (e) => events.push(e) }).request({ method: 'POST', path: '/v3/x', body: ORDER });
    expect(result.data).toEqual({ ok: 2 });
    expect(result.attempts).toBe(3);
    expect(result.baseUrl).toBe(backup.url);
    expect(backup.requests).toHaveLength(2);
    expect(events[0]).toMatchObject({ attempt: 1, baseUrl: main, outcome: { failure: 'connection', code: 'ECONNREFUSED' }, next: { baseUrl: backup.url, delayMs: 0 } });
  });

  it('fails over to the backup domain when the main one times out (a domain that drops packets)', async () => {
    const main = await server(() => {
      /* drops everything: never answers */
    });
    const backup = await server((req, res) => reply(res, authorizationValid(req) ? 200 : 401, '{"ok":3}'));
    const result = await client([main.url, backup.url], { timeoutMs: 200 }).request({ method: 'POST', path: '/v3/x', body: ORDER });
    expect(result.data).toEqual({ ok: 3 });
    expect(result.baseUrl).toBe(backup.url);
    expect(main.requests).toHaveLength(1);
  });

  it('keeps the whole call inside its budget: attempts shrink to what is left, and none starts too late', async () => {
    const main = await server(() => {
      /* never answers */
    });
    const started = performance.now();
    const error = await client([main.url], { timeoutMs: 5000, maxAttempts: 3 })
      .request({ method: 'GET', path: '/v3/x', budgetMs: 700 })
      .catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ kind: 'timeout' });
    expect(took).toBeLessThan(1000);
    expect(took).toBeGreaterThanOrEqual(650);
  });

  it('does not send at all when the budget is already spent', async () => {
    const main = await server((req, res) => reply(res, authorizationValid(req) ? 200 : 401, '{"ok":1}'));
    const error = await client([main.url]).request({ method: 'GET', path: '/v3/x', budgetMs: 50 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'timeout', attempts: 0 });
    expect(main.requests).toHaveLength(0);
  });

  it('throws WechatPayTransportError(connection) when every domain refuses', async () => {
    const error = await client([await refusedUrl(), await refusedUrl()]).request({ method: 'GET', path: '/v3/x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ kind: 'connection', attempts: 3 });
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('never returns a probe-signed 200 as success: ResponseVerificationError, no retry', async () => {
    const main = await server((_req, res) => reply(res, 200, '{"h5_url":"x"}', { 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/ZmFrZQ==' }));
    const error = await client([main.url]).request({ method: 'POST', path: '/v3/pay/transactions/h5', body: ORDER }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseVerificationError);
    expect((error as ResponseVerificationError).cause).toBeInstanceOf(SignatureProbeError);
    expect(error).toMatchObject({ status: 200, requestId: 'req-200', attempts: 1 });
    expect(main.requests).toHaveLength(1);
  });

  it.each([
    ['an unsigned 200', {}, false, MissingHeaderError],
    ['a 200 signed by an unknown key id', { 'Wechatpay-Serial': 'PUB_KEY_ID_UNKNOWN' }, true, UnknownSerialError],
    ['a 200 with a stale timestamp', { 'Wechatpay-Timestamp': '1600000000' }, true, TimestampOutOfWindowError],
    ['a 200 with a forged signature', { 'Wechatpay-Signature': Buffer.alloc(256, 7).toString('base64') }, true, InvalidSignatureError],
  ] as const)('rejects %s', async (_label, extra, sign, causeType) => {
    const main = await server((_req, res) => reply(res, 200, '{"ok":true}', extra, sign));
    const error = await client([main.url]).request({ method: 'GET', path: '/v3/x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseVerificationError);
    expect((error as ResponseVerificationError).cause).toBeInstanceOf(causeType);
  });

  it('rejects a body altered after signing', async () => {
    const main = await server((_req, res) => {
      const headers = wechatpaySignedHeaders({ body: '{"amount":1}', privateKey: wechat.privateKey, serial: WECHAT_KEY_ID, timestamp: Math.floor(Date.now() / 1000) });
      res.writeHead(200, headers).end('{"amount":100}');
    });
    const error = await client([main.url]).request({ method: 'GET', path: '/v3/x' }).catch((e: unknown) => e);
    expect((error as ResponseVerificationError).cause).toBeInstanceOf(InvalidSignatureError);
  });

  it('MalformedResponseError for a verified 2xx that is not JSON', async () => {
    const main = await server((_req, res) => reply(res, 200, 'not json'));
    await expect(client([main.url]).request({ method: 'GET', path: '/v3/x' })).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it('stops when the caller aborts', async () => {
    const main = await server(() => {
      /* never answers */
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('lambda deadline')), 50);
    await expect(client([main.url], { timeoutMs: 5000 }).request({ method: 'GET', path: '/v3/x', signal: controller.signal })).rejects.toThrow('lambda deadline');
    expect(main.requests).toHaveLength(1);
  });

  it('validates its configuration', async () => {
    expect(() => client([])).toThrow(TypeError);
    expect(() => client(['not a url'])).toThrow();
    await expect(client(['http://127.0.0.1:1']).request({ method: 'GET', path: 'v3/x' })).rejects.toThrow(TypeError);
  });
});
