import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MalformedResponseError,
  ResponseVerificationError,
  V2SignatureError,
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayV2Client,
  type WechatPayV2ClientOptions,
  WechatPayV2ReturnError,
} from '../../../shared/wechatpay/index';
import { type LocalServer, type RecordedRequest, refusedUrl, startServer } from './local-server';
import { peer } from './support';

const MCH_ID = '1900000001';
const APPID = 'wx8888888888888888';
const KEY = '192006250b4c09247ec02edce69f6a2d';

const servers: LocalServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(handler: Parameters<typeof startServer>[0]): Promise<LocalServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

/** The request as WeChat reads it (peer XML parser + peer signer). */
function received(request: RecordedRequest): Record<string, string> {
  return peer.Transformer.toObject(request.body.toString('utf8')) as Record<string, string>;
}

function signValid(params: Record<string, string>): boolean {
  const type = params['sign_type'] === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
  return peer.Hash.sign(type, params, KEY) === params['sign'];
}

function replyXml(res: ServerResponse, fields: Record<string, string>, options: { sign?: 'MD5' | 'HMAC-SHA256' | false; status?: number } = {}): void {
  const payload = { ...fields };
  if (options.sign !== false) payload['sign'] = peer.Hash.sign(options.sign ?? 'MD5', payload, KEY);
  res.writeHead(options.status ?? 200, { 'Content-Type': 'text/xml' }).end(peer.Transformer.toXml(payload));
}

const SUCCESS = {
  return_code: 'SUCCESS',
  return_msg: 'OK',
  appid: APPID,
  mch_id: MCH_ID,
  nonce_str: 'IITRi8Iabbblz1Jc',
  result_code: 'SUCCESS',
  prepay_id: 'wx201410272009395522657a690389285100',
  trade_type: 'MWEB',
  mweb_url: 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016&package=1037687096',
  contract_result_code: 'SUCCESS',
};

function client(baseUrls: string[], overrides: Partial<WechatPayV2ClientOptions> = {}): WechatPayV2Client {
  return new WechatPayV2Client({ mchid: MCH_ID, appid: APPID, apiV2Key: KEY, baseUrls, timeoutMs: 2000, sleep: async () => {}, ...overrides });
}

const ORDER = {
  contract_mchid: MCH_ID,
  contract_appid: APPID,
  out_trade_no: 'CO20250101000001',
  body: '会员 & 自动续费 <月卡>',
  notify_url: 'https://example.com/notify/contract-order/payment',
  total_fee: 100,
  spbill_create_ip: '203.0.113.7',
  trade_type: 'MWEB',
  plan_id: '12535',
  contract_code: 'C20250101000001',
  request_serial: 1000,
  contract_display_account: '张三',
  contract_notify_url: 'https://example.com/notify/contract-order/contract',
  attach: undefined,
};

describe('WechatPayV2Client', () => {
  it('sends signed XML (MD5, no sign_type) and returns the verified flat params', async () => {
    const main = await server((req, res) => (signValid(received(req)) ? replyXml(res, SUCCESS) : replyXml(res, { return_code: 'FAIL', return_msg: '签名错误' }, { sign: false })));
    const result = await client([main.url]).post('/pay/contractorder', ORDER);
    expect(result.data).toEqual({ ...SUCCESS, sign: expect.stringMatching(/^[0-9A-F]{32}$/) });
    expect(result).toMatchObject({ status: 200, attempts: 1, baseUrl: main.url });

    const sent = received(main.requests[0] as RecordedRequest);
    expect(sent).toMatchObject({ appid: APPID, mch_id: MCH_ID, total_fee: '100', body: ORDER.body, request_serial: '1000' });
    expect(sent['nonce_str']).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(sent['sign_type']).toBeUndefined();
    expect(sent['attach']).toBeUndefined();
    expect(main.requests[0]?.headers['content-type']).toMatch(/^text\/xml/);
    expect(main.requests[0]?.url).toBe('/pay/contractorder');
  });

  it('declares and uses HMAC-SHA256 when configured', async () => {
    const main = await server((req, res) => (signValid(received(req)) ? replyXml(res, { ...SUCCESS, sign_type: 'HMAC-SHA256' }, { sign: 'HMAC-SHA256' }) : res.writeHead(400).end()));
    const result = await client([main.url], { signType: 'HMAC-SHA256' }).post('/pay/contractorder', ORDER);
    expect(result.data['sign']).toMatch(/^[0-9A-F]{64}$/);
    const sent = received(main.requests[0] as RecordedRequest);
    expect(sent['sign_type']).toBe('HMAC-SHA256');
    expect(sent['sign']).toMatch(/^[0-9A-F]{64}$/);
  });

  it('refuses an answer signed with another sign type than the one it asked in (no downgrade to MD5)', async () => {
    const main = await server((_req, res) => replyXml(res, SUCCESS, { sign: 'MD5' }));
    const error = await client([main.url], { signType: 'HMAC-SHA256' }).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseVerificationError);
    expect(((error as ResponseVerificationError).cause as V2SignatureError).reason).toBe('sign_type_mismatch');
  });

  it('returns result_code=FAIL replies to the caller (business outcome, still verified)', async () => {
    const main = await server((_req, res) => replyXml(res, { ...SUCCESS, result_code: 'FAIL', err_code: 'CONTRACT_CODE DUPLICATION', err_code_des: '签约协议号重复' }));
    const result = await client([main.url]).post('/pay/contractorder', ORDER);
    expect(result.data).toMatchObject({ result_code: 'FAIL', err_code: 'CONTRACT_CODE DUPLICATION' });
  });

  it('throws WechatPayV2ReturnError for return_code=FAIL (no sign to check)', async () => {
    const main = await server((_req, res) => replyXml(res, { return_code: 'FAIL', return_msg: '签名错误' }, { sign: false }));
    const error = await client([main.url]).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayV2ReturnError);
    expect(error).toMatchObject({ returnCode: 'FAIL', returnMsg: '签名错误', attempts: 1 });
    expect(main.requests).toHaveLength(1);
  });

  it('throws ResponseVerificationError for a bad response sign', async () => {
    const main = await server((_req, res) => replyXml(res, { ...SUCCESS, sign: 'ABCDEF0123456789ABCDEF0123456789' }, { sign: false }));
    const error = await client([main.url]).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseVerificationError);
    expect((error as ResponseVerificationError).cause).toBeInstanceOf(V2SignatureError);
    expect(((error as ResponseVerificationError).cause as V2SignatureError).reason).toBe('mismatch');
  });

  it('throws ResponseVerificationError for an unsigned SUCCESS reply', async () => {
    const main = await server((_req, res) => replyXml(res, SUCCESS, { sign: false }));
    const error = await client([main.url]).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(((error as ResponseVerificationError).cause as V2SignatureError).reason).toBe('missing_sign');
  });

  it('throws ResponseVerificationError when the response names another merchant', async () => {
    const main = await server((_req, res) => replyXml(res, { ...SUCCESS, mch_id: '1900009999' }));
    const error = await client([main.url]).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(((error as ResponseVerificationError).cause as V2SignatureError).reason).toBe('mch_id_mismatch');
  });

  it('retries 5xx with identical bytes (same nonce and sign), then succeeds', async () => {
    const main = await server((_req, res, i) => (i === 0 ? res.writeHead(500).end('oops') : replyXml(res, SUCCESS)));
    const result = await client([main.url]).post('/pay/contractorder', ORDER);
    expect(result.attempts).toBe(2);
    expect(main.requests[0]?.body.equals(main.requests[1]?.body as Buffer)).toBe(true);
  });

  it('fails over to the backup domain on connection errors', async () => {
    const backup = await server((_req, res) => replyXml(res, SUCCESS));
    const result = await client([await refusedUrl(), backup.url]).post('/pay/contractorder', ORDER);
    expect(result).toMatchObject({ attempts: 2, baseUrl: backup.url });
  });

  it('times out and reports a transport error', async () => {
    const main = await server(() => {
      /* never answers */
    });
    const error = await client([main.url], { timeoutMs: 100, maxAttempts: 2 }).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayTransportError);
    expect(error).toMatchObject({ kind: 'timeout', attempts: 2 });
  });

  it('WechatPayApiError for a 4xx, without retrying', async () => {
    const main = await server((_req, res) => res.writeHead(404).end('not found'));
    const error = await client([main.url]).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatPayApiError);
    expect(error).toMatchObject({ status: 404, code: 'HTTP_404', retriable: false });
    expect(main.requests).toHaveLength(1);
  });

  it('MalformedResponseError for a 200 that is not APIv2 XML (or unsafe XML)', async () => {
    const html = await server((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>proxy</body></html>'));
    await expect(client([html.url]).post('/pay/contractorder', ORDER)).rejects.toBeInstanceOf(MalformedResponseError);
    const xxe = await server((_req, res) => res.writeHead(200).end('<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><return_code>&x;</return_code></xml>'));
    const error = await client([xxe.url]).post('/pay/contractorder', ORDER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect((error as Error).message).toContain('declarations are not allowed');
  });

  it('refuses parameters that contradict its configuration', () => {
    const v2 = client(['http://127.0.0.1:1']);
    expect(() => v2.signedParams({ mch_id: '1' })).toThrow(TypeError);
    expect(() => v2.signedParams({ sign_type: 'HMAC-SHA256' })).toThrow(TypeError);
    const signed = v2.signedParams({ nonce_str: 'fixed', sign: 'ignored', total_fee: 1 });
    expect(signed['nonce_str']).toBe('fixed');
    expect(signed['sign']).toBe(peer.Hash.sign('MD5', { appid: APPID, mch_id: MCH_ID, nonce_str: 'fixed', total_fee: 1 }, KEY));
  });
});
