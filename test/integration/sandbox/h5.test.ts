import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../../sandbox/index';
import { sandboxUnderTest } from './support/lifecycle';
import { sandboxJson, v3 } from './support/client';
import { Receiver } from './support/receiver';
import { h5Body } from './support/requests';
import { decryptResource, verifyWechatpaySignature, type V3Envelope } from './support/verify';

const sut = sandboxUnderTest();
const H5 = '/v3/pay/transactions/h5';


const order = (extra: Record<string, unknown> = {}): Record<string, unknown> => h5Body(sut.fx.direct, sut.rx.url('/h5'), extra);
const detailOf = (json: Record<string, unknown> | undefined): Record<string, unknown> => (json?.['detail'] ?? {}) as Record<string, unknown>;

describe('POST /v3/pay/transactions/h5', () => {
  it.each([
    ['description', { description: 'x'.repeat(128) }],
    ['out_trade_no', { out_trade_no: 'abc' }],
    ['out_trade_no', { out_trade_no: 'has space 123' }],
    ['time_expire', { time_expire: '2030-01-01 10:00:00' }],
    ['attach', { attach: 'a'.repeat(129) }],
    ['notify_url', { notify_url: 'https://merchant.example.com/notify?x=1' }],
    ['notify_url', { notify_url: 'http://merchant.example.com/notify' }],
    ['notify_url', { notify_url: ' https://merchant.example.com/notify' }],
    ['support_fapiao', { support_fapiao: 'false' }],
    ['amount.total', { amount: { total: 0 } }],
    ['amount.total', { amount: { total: 1.5 } }],
    ['amount.currency', { amount: { total: 1, currency: 'USD' } }],
    ['scene_info.payer_client_ip', { scene_info: { payer_client_ip: '999.1.1.1', h5_info: { type: 'Wap' } } }],
    ['scene_info.h5_info', { scene_info: { payer_client_ip: '1.2.3.4' } }],
    ['scene_info.h5_info.type', { scene_info: { payer_client_ip: '1.2.3.4', h5_info: {} } }],
    ['unknown_field', { unknown_field: 1 }],
  ])('rejects a bad %s with 400 PARAM_ERROR naming it', async (field, extra) => {
    const res = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: order(extra) });
    expect(res.status).toBe(400);
    expect(res.json?.['code']).toBe('PARAM_ERROR');
    expect(detailOf(res.json)['field']).toBe(field);
    expect(detailOf(res.json)['location']).toBe('body');
    expect(typeof detailOf(res.json)['issue']).toBe('string');
  });

  it('rejects a missing required field', async () => {
    const body = order();
    delete body['notify_url'];
    const res = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    expect(res.status).toBe(400);
    expect(detailOf(res.json)['field']).toBe('notify_url');
  });

  it('rejects an appid not bound to the mchid, a body mchid unlike the caller, and partners', async () => {
    const appid = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: order({ appid: sut.fx.partner.appid }) });
    expect(appid.status).toBe(400);
    expect(appid.json?.['code']).toBe('APPID_MCHID_NOT_MATCH');
    const mchid = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: order({ mchid: sut.fx.partner.mchid }) });
    expect(mchid.status).toBe(400);
    expect(detailOf(mchid.json)['field']).toBe('mchid');
    const partner = await v3(sut.sb.url, sut.fx.partner, { path: H5, body: { ...order(), mchid: sut.fx.partner.mchid, appid: sut.fx.partner.appid } });
    expect(partner.status).toBe(403);
    expect(partner.json?.['code']).toBe('NO_AUTH');
  });

  it('accepts http notify URLs on loopback and IPv6 payer IPs', async () => {
    const res = await v3(sut.sb.url, sut.fx.direct, {
      path: H5,
      body: order({ scene_info: { payer_client_ip: '2001:db8::1', h5_info: { type: 'iOS', app_name: 'x' } } }),
    });
    expect(res.status).toBe(200);
  });

  it('same body again gives the same h5_url; a different body is OUT_TRADE_NO_USED', async () => {
    const body = order();
    const first = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: reordered });
    expect(again.status).toBe(200);
    expect(again.json?.['h5_url']).toBe(first.json?.['h5_url']);
    const changed = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: { ...body, amount: { total: 101 } } });
    expect(changed.status).toBe(403);
    expect(changed.json?.['code']).toBe('OUT_TRADE_NO_USED');
  });

  it('issues a fresh h5_url once the 5-minute one has expired', async () => {
    const body = order();
    const first = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    sut.sb.clock.advance(301);
    try {
      const page = await fetch(String(first.json?.['h5_url']));
      expect(page.status).toBe(410);
      expect(await page.text()).toContain('链接已过期');
      const again = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
      expect(again.status).toBe(200);
      expect(again.json?.['h5_url']).not.toBe(first.json?.['h5_url']);
      const act = await sandboxJson(sut.sb.url, '/sandbox/act', { url: first.json?.['h5_url'], action: 'pay' });
      expect(act.status).toBe(410);
    } finally {
      sut.sb.clock.advance(-301);
    }
  });

  it('pays: query SUCCESS, TRANSACTION.SUCCESS delivered, verified and decrypted with the peer library', async () => {
    const body = order();
    const created = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    const otn = String(body['out_trade_no']);
    const q = `/v3/pay/transactions/out-trade-no/${otn}?mchid=${sut.fx.direct.mchid}`;
    const before = await v3(sut.sb.url, sut.fx.direct, { path: q });
    expect(before.json?.['trade_state']).toBe('NOTPAY');

    const page = await fetch(String(created.json?.['h5_url']));
    const html = await page.text();
    expect(html).toContain('¥1.00');
    expect(html).toContain('Image形象店-深圳腾大-QQ公仔');

    const before_count = sut.rx.on('/h5').length;
    const act = await sandboxJson(sut.sb.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
    expect(act.json.ok).toBe(true);
    const [n] = (await sut.rx.waitFor(before_count + 1, '/h5')).slice(before_count);
    expect(n).toBeDefined();
    expect(verifyWechatpaySignature({ headers: n!.headers, body: n!.body }, sut.fx.wechatpay.publicKeyId, sut.fx.wechatpay.publicKeyPem)).toBe(true);
    const env = JSON.parse(n!.body) as V3Envelope;
    expect(env.event_type).toBe('TRANSACTION.SUCCESS');
    expect(env.resource_type).toBe('encrypt-resource');
    expect(env.resource.algorithm).toBe('AEAD_AES_256_GCM');
    expect(env.resource.associated_data).toBe('transaction');
    expect(env.resource.original_type).toBe('transaction');
    expect(env.resource.nonce).toHaveLength(12);
    expect(env.create_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    const tx = decryptResource(env, sut.fx.direct.apiV3Key);
    expect(tx).toMatchObject({
      appid: sut.fx.direct.appid,
      mchid: sut.fx.direct.mchid,
      out_trade_no: otn,
      trade_type: 'MWEB',
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      attach: '自定义数据说明',
      amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
    });
    expect(String(tx['transaction_id'])).toMatch(/^\d{28}$/);
    expect(String((tx['payer'] as Record<string, unknown>)['openid'])).toMatch(/^o/);

    const after = await v3(sut.sb.url, sut.fx.direct, { path: q });
    expect(after.json?.['trade_state']).toBe('SUCCESS');
    expect(after.json?.['transaction_id']).toBe(tx['transaction_id']);
    const byId = await v3(sut.sb.url, sut.fx.direct, { path: `/v3/pay/transactions/id/${String(tx['transaction_id'])}?mchid=${sut.fx.direct.mchid}` });
    expect(byId.json?.['out_trade_no']).toBe(otn);

    const reorder = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    expect(reorder.status).toBe(400);
    expect(reorder.json?.['code']).toBe('ORDERPAID');
    const twice = await sandboxJson(sut.sb.url, '/sandbox/act', { out_trade_no: otn, action: 'pay' });
    expect(twice.status).toBe(409);
  });

  it('queries need mchid matching the caller; unknown orders are 404 ORDER_NOT_EXIST', async () => {
    const missing = await v3(sut.sb.url, sut.fx.direct, { path: '/v3/pay/transactions/out-trade-no/ABCDEF1' });
    expect(missing.status).toBe(400);
    expect(detailOf(missing.json)['location']).toBe('query');
    const none = await v3(sut.sb.url, sut.fx.direct, { path: `/v3/pay/transactions/out-trade-no/ABCDEF1?mchid=${sut.fx.direct.mchid}` });
    expect(none.status).toBe(404);
    expect(none.json?.['code']).toBe('ORDER_NOT_EXIST');
  });

  it('close: 204, then CLOSED, then the same body is ORDER_CLOSED', async () => {
    const body = order();
    await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    const otn = String(body['out_trade_no']);
    const closed = await v3(sut.sb.url, sut.fx.direct, {
      path: `/v3/pay/transactions/out-trade-no/${otn}/close`,
      body: { mchid: sut.fx.direct.mchid },
    });
    expect(closed.status).toBe(204);
    expect(closed.text).toBe('');
    expect(verifyWechatpaySignature({ headers: closed.headers, body: '' }, sut.fx.wechatpay.publicKeyId, sut.fx.wechatpay.publicKeyPem)).toBe(true);
    const q = await v3(sut.sb.url, sut.fx.direct, { path: `/v3/pay/transactions/out-trade-no/${otn}?mchid=${sut.fx.direct.mchid}` });
    expect(q.json?.['trade_state']).toBe('CLOSED');
    const again = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    expect(again.json?.['code']).toBe('ORDER_CLOSED');
  });

  it('re-sends until acknowledged: 500, 500, then 204 makes 3 attempts', async () => {
    let calls = 0;
    const flaky = await Receiver.start(() => {
      calls += 1;
      return calls <= 2 ? { status: 500, body: '{"code":"FAIL","message":"失败"}' } : { status: 204 };
    });
    try {
      const body = h5Body(sut.fx.direct, flaky.url('/n'));
      const created = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
      await sandboxJson(sut.sb.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
      await flaky.waitFor(3);
      await new Promise((r) => setTimeout(r, 200));
      expect(flaky.received).toHaveLength(3);
      const bodies = new Set(flaky.received.map((r) => r.body));
      expect(bodies.size).toBe(1); // same notification re-sent
      const log = (await sandboxJson(sut.sb.url, '/sandbox/notifications')).json as Array<Record<string, unknown>>;
      const mine = log.filter((a) => a['target'] === flaky.url('/n'));
      expect(mine.map((a) => [a['attempt'], a['status'], a['ok']])).toEqual([
        [1, 500, false],
        [2, 500, false],
        [3, 204, true],
      ]);
      expect(mine[0]?.['event']).toBe('TRANSACTION.SUCCESS');
    } finally {
      await flaky.close();
    }
  });

  it('a 200 with a FAIL body still counts as acknowledged; a 202 does not', async () => {
    let calls = 0;
    const r = await Receiver.start(() => {
      calls += 1;
      return calls === 1 ? { status: 202 } : { status: 200, body: '{"code":"FAIL"}' };
    });
    try {
      const created = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, r.url('/n')) });
      await sandboxJson(sut.sb.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
      await r.waitFor(2);
      await new Promise((res) => setTimeout(res, 200));
      expect(r.received).toHaveLength(2);
    } finally {
      await r.close();
    }
  });

  it('stops after the schedule: 1 + 15 attempts to a dead receiver, then nothing pending', async () => {
    const fast = await startSandbox({ config: sut.fx.config, timeScale: 0.00001 }); // 24h04m -> ~0.9 s
    const dead = await Receiver.start(() => ({ status: 503 }));
    try {
      const created = await v3(fast.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, dead.url('/dead')) });
      await sandboxJson(fast.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
      const last = await fast.notifications.waitFor((a) => a.final === true, 10_000);
      expect(last.attempt).toBe(16);
      await new Promise((r) => setTimeout(r, 100));
      expect(dead.received).toHaveLength(16);
      expect(fast.notifications.pending()).toBe(0);
    } finally {
      await fast.close();
      await dead.close();
    }
  });
});
