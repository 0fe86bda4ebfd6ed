import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSandboxFixture, startSandbox, type RunningSandbox, type SandboxFixture } from '../../../sandbox/index';
import { v3 } from './support/client';
import { h5Body } from './support/requests';
import { authorization } from './support/signer';
import { verifyWechatpaySignature } from './support/verify';

let fx: SandboxFixture;
let sb: RunningSandbox;
const H5 = '/v3/pay/transactions/h5';
const NOTIFY = 'https://merchant.example.com/notify/h5';

beforeAll(async () => {
  fx = generateSandboxFixture();
  sb = await startSandbox({ config: fx.config, timeScale: 0.001 });
});
afterAll(async () => {
  await sb.close();
});

function expectSigned(res: { headers: Record<string, string>; text: string }): void {
  expect(verifyWechatpaySignature({ headers: res.headers, body: res.text }, fx.wechatpay.publicKeyId, fx.wechatpay.publicKeyPem)).toBe(true);
  expect(res.headers['request-id']).toMatch(/^\w+$/);
  expect(res.headers['wechatpay-nonce']).toMatch(/^[0-9A-F]{32}$/);
}

describe('APIv3 request authentication', () => {
  it('accepts a correctly signed request and signs its answer', async () => {
    const res = await v3(sb.url, fx.direct, { path: H5, body: h5Body(fx.direct, NOTIFY) });
    expect(res.status).toBe(200);
    expect(String(res.json?.['h5_url'])).toContain(`${sb.url}/pay/h5?prepay_id=wx`);
    expectSigned(res);
  });

  it('accepts the five Authorization pairs in any order', async () => {
    const body = JSON.stringify(h5Body(fx.direct, NOTIFY));
    const header = authorization(fx.direct, 'POST', H5, body);
    const pairs = header.slice('WECHATPAY2-SHA256-RSA2048 '.length).split(',').reverse().join(',');
    const res = await v3(sb.url, fx.direct, { path: H5, body, rawAuthorization: `WECHATPAY2-SHA256-RSA2048 ${pairs}` });
    expect(res.status).toBe(200);
  });

  it('refuses a wrong signature with 401 SIGN_ERROR and sign_information', async () => {
    const body = JSON.stringify(h5Body(fx.direct, NOTIFY));
    // signed over a different body than the one sent
    const header = authorization(fx.direct, 'POST', H5, `${body} `);
    const res = await v3(sb.url, fx.direct, { path: H5, body, rawAuthorization: header });
    expect(res.status).toBe(401);
    expect(res.json?.['code']).toBe('SIGN_ERROR');
    const detail = res.json?.['detail'] as Record<string, any>;
    expect(detail['sign_information']['method']).toBe('POST');
    expect(detail['sign_information']['url']).toBe(H5);
    expect(detail['sign_information']['truncated_sign_message']).toMatch(/^POST\n\/v3\/pay\/transactions\/h5\n\d+\n/);
    expect(detail['sign_information']['sign_message_length']).toBeGreaterThan(body.length);
    expectSigned(res);
  });

  it('refuses a signature made with another key', async () => {
    const res = await v3(sb.url, { ...fx.direct, privateKeyPem: fx.partner.privateKeyPem }, { path: H5, body: h5Body(fx.direct, NOTIFY) });
    expect(res.status).toBe(401);
    expect(res.json?.['code']).toBe('SIGN_ERROR');
  });

  it('refuses a wrong certificate serial', async () => {
    const res = await v3(sb.url, fx.direct, { path: H5, body: h5Body(fx.direct, NOTIFY), auth: { serialNo: fx.partner.serialNo } });
    expect(res.status).toBe(401);
    expect(res.json?.['code']).toBe('SIGN_ERROR');
    expect(String(res.json?.['message'])).toContain('证书序列号');
  });

  it('refuses a stale (and a millisecond) timestamp', async () => {
    const stale = await v3(sb.url, fx.direct, {
      path: H5,
      body: h5Body(fx.direct, NOTIFY),
      auth: { timestamp: Math.floor(Date.now() / 1000) - 301 },
    });
    expect(stale.status).toBe(401);
    expect(stale.json?.['code']).toBe('SIGN_ERROR');
    expect(stale.json?.['message']).toBe('Http头Authorization中的timestamp与发起请求的时间不得超过5分钟');
    const ms = await v3(sb.url, fx.direct, { path: H5, body: h5Body(fx.direct, NOTIFY), auth: { timestamp: Date.now() } });
    expect(ms.status).toBe(401);
  });

  it('refuses a missing, garbled or foreign-merchant Authorization', async () => {
    const body = h5Body(fx.direct, NOTIFY);
    const missing = await v3(sb.url, fx.direct, { path: H5, body, headers: { Authorization: undefined } });
    expect(missing.status).toBe(401);
    expect(missing.json?.['code']).toBe('SIGN_ERROR');
    const garbled = await v3(sb.url, fx.direct, { path: H5, body, rawAuthorization: 'WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str=2' });
    expect(garbled.status).toBe(401);
    const scheme = await v3(sb.url, fx.direct, { path: H5, body, rawAuthorization: 'Bearer abc' });
    expect(scheme.status).toBe(401);
    const unknown = await v3(sb.url, fx.direct, { path: H5, body, auth: { mchid: '1999999999' } });
    expect(unknown.status).toBe(401);
    expectSigned(unknown);
  });

  it('requires Accept and Content-Type application/json', async () => {
    const body = h5Body(fx.direct, NOTIFY);
    const accept = await v3(sb.url, fx.direct, { path: H5, body, headers: { Accept: 'text/html' } });
    expect(accept.status).toBe(400);
    expect(accept.json?.['code']).toBe('INVALID_REQUEST');
    const ct = await v3(sb.url, fx.direct, { path: H5, body, headers: { 'Content-Type': 'text/plain' } });
    expect(ct.status).toBe(400);
    expect(ct.json?.['code']).toBe('INVALID_REQUEST');
    const charset = await v3(sb.url, fx.direct, { path: H5, body, headers: { 'Content-Type': 'application/json; charset=utf-8' } });
    expect(charset.status).toBe(200);
  });

  it('rejects 4-byte UTF-8 characters and null values naming the field', async () => {
    const emoji = await v3(sb.url, fx.direct, { path: H5, body: h5Body(fx.direct, NOTIFY, { description: '公仔😀' }) });
    expect(emoji.status).toBe(400);
    expect(emoji.json?.['code']).toBe('PARAM_ERROR');
    expect((emoji.json?.['detail'] as Record<string, unknown>)['field']).toBe('description');
    const nul = await v3(sb.url, fx.direct, { path: H5, body: h5Body(fx.direct, NOTIFY, { attach: null }) });
    expect(nul.status).toBe(400);
    expect((nul.json?.['detail'] as Record<string, unknown>)['field']).toBe('attach');
  });

  it('signs over the exact raw body bytes (whitespace and key order kept)', async () => {
    const body = `{ "mchid":"${fx.direct.mchid}",\n "appid":"${fx.direct.appid}", "description":"x", "out_trade_no":"RAW${Date.now()}", "notify_url":"${NOTIFY}", "amount":{"total":1}, "scene_info":{"payer_client_ip":"::1","h5_info":{"type":"iOS"}} }`;
    const res = await v3(sb.url, fx.direct, { path: H5, body });
    expect(res.status).toBe(200);
  });

  it('includes the query string in the signed URL', async () => {
    const path = `/v3/pay/transactions/out-trade-no/NOPE123456?mchid=${fx.direct.mchid}`;
    const ok = await v3(sb.url, fx.direct, { path });
    expect(ok.status).toBe(404);
    expect(ok.json?.['code']).toBe('ORDER_NOT_EXIST');
    const header = authorization(fx.direct, 'GET', '/v3/pay/transactions/out-trade-no/NOPE123456', '');
    const bad = await v3(sb.url, fx.direct, { path, rawAuthorization: header });
    expect(bad.status).toBe(401);
  });

  it('answers unknown routes with a signed 404', async () => {
    const res = await v3(sb.url, fx.direct, { path: '/v3/nothing/here' });
    expect(res.status).toBe(404);
    expectSigned(res);
  });
});
