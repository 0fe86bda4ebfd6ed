import { describe, expect, it } from 'vitest';
import { sandboxUnderTest } from './support/lifecycle';
import { sandboxJson, v3 } from './support/client';
import type { Received } from './support/receiver';
import { ID_NUMBER, presignBody, REAL_NAME, uniq } from './support/requests';
import { encryptSensitive } from './support/signer';
import { decryptResource, verifyWechatpaySignature, type V3Envelope } from './support/verify';

const sut = sandboxUnderTest();
const PRESIGN = '/v3/credit-repayment/partner/contracts/h5-presign';


const serial = (): Record<string, string> => ({ 'Wechatpay-Serial': sut.fx.wechatpay.publicKeyId });
const presign = (body: Record<string, unknown>, headers: Record<string, string | undefined> = serial()) =>
  v3(sut.sb.url, sut.fx.partner, { path: PRESIGN, body, headers });
const detailOf = (json: Record<string, unknown> | undefined): Record<string, unknown> => (json?.['detail'] ?? {}) as Record<string, unknown>;

function open(n: Received): { env: V3Envelope; data: Record<string, unknown> } {
  expect(verifyWechatpaySignature({ headers: n.headers, body: n.body }, sut.fx.wechatpay.publicKeyId, sut.fx.wechatpay.publicKeyPem)).toBe(true);
  const env = JSON.parse(n.body) as V3Envelope;
  return { env, data: decryptResource(env, sut.fx.partner.apiV3Key) };
}

describe('POST /v3/credit-repayment/partner/contracts/h5-presign', () => {
  it('returns a redirect_url whose page shows the mask, plan, limit, day and first repayment', async () => {
    const body = presignBody(sut.fx, sut.rx.url('/c'), {
      trade_info: { out_trade_no: uniq('T'), deduct_amount: '5000', description: '首期还款', notify_url: sut.rx.url('/r') },
    });
    const res = await presign(body);
    expect(res.status).toBe(200);
    expect(verifyWechatpaySignature({ headers: res.headers, body: res.text }, sut.fx.wechatpay.publicKeyId, sut.fx.wechatpay.publicKeyPem)).toBe(true);
    const url = String(res.json?.['redirect_url']);
    expect(url).toMatch(new RegExp(`^${sut.sb.url}/credit-repayment/sign\\?presign_token=`));
    const html = await (await fetch(url)).text();
    expect(html).toContain('**丰');
    expect(html).toContain(sut.fx.partner.planId);
    expect(html).toContain('¥100.00');
    expect(html).toContain('1日');
    expect(html).toContain('¥50.00');
    expect(html).not.toContain(REAL_NAME);
    expect(html).not.toContain(ID_NUMBER);
  });

  it('requires Wechatpay-Serial naming the sandbox public key', async () => {
    const missing = await presign(presignBody(sut.fx, sut.rx.url('/c')), {});
    expect(missing.status).toBe(400);
    expect(missing.json?.['code']).toBe('PARAM_ERROR');
    expect(detailOf(missing.json)['location']).toBe('header');
    const wrong = await presign(presignBody(sut.fx, sut.rx.url('/c')), { 'Wechatpay-Serial': 'PUB_KEY_ID_0000000000000000000000000001' });
    expect(wrong.status).toBe(400);
    expect(detailOf(wrong.json)['field']).toBe('Wechatpay-Serial');
  });

  it('rejects a display_name that is not the mask of the real name', async () => {
    const res = await presign(presignBody(sut.fx, sut.rx.url('/c'), { display_name: '*三丰' }));
    expect(res.status).toBe(400);
    expect(res.json?.['code']).toBe('PARAM_ERROR');
    expect(detailOf(res.json)['field']).toBe('display_name');
    expect(res.text).not.toContain(REAL_NAME);
    // names longer than 4 characters: *** + last
    const long = await presign(presignBody(sut.fx, sut.rx.url('/c'), { display_name: '***斯' }, { name: '阿卜杜勒斯' }));
    expect(long.status).toBe(200);
    const one = await presign(presignBody(sut.fx, sut.rx.url('/c'), { display_name: '*.G' }, { name: 'A.G' }));
    expect(one.status).toBe(400);
    const ok2 = await presign(presignBody(sut.fx, sut.rx.url('/c'), { display_name: '**G' }, { name: 'A.G' }));
    expect(ok2.status).toBe(200);
  });

  it('rejects fields that cannot be decrypted or are malformed', async () => {
    const garbage = presignBody(sut.fx, sut.rx.url('/c'));
    (garbage['real_identity'] as Record<string, unknown>)['real_name'] = 'bm90IGVuY3J5cHRlZA==';
    const a = await presign(garbage);
    expect(a.status).toBe(400);
    expect(detailOf(a.json)['field']).toBe('real_identity.real_name');
    const otherKey = presignBody(sut.fx, sut.rx.url('/c'));
    (otherKey['real_identity'] as Record<string, unknown>)['identity_id'] = encryptSensitive(sut.fx.partner.publicKeyPem, ID_NUMBER);
    const b = await presign(otherKey);
    expect(detailOf(b.json)['field']).toBe('real_identity.identity_id');
    const badId = await presign(presignBody(sut.fx, sut.rx.url('/c'), {}, { id: '12345' }));
    expect(detailOf(badId.json)['field']).toBe('real_identity.identity_id');
    for (const [field, extra] of [
      ['out_contract_code', { out_contract_code: 'has-dash' }],
      ['repayment_amount_limit', { repayment_amount_limit: 10000 }],
      ['repayment_day', { repayment_day: 32 }],
      ['contract_notify_url', { contract_notify_url: 'https://x.example.com/n?a=1' }],
      ['trade_info.deduct_amount', { trade_info: { out_trade_no: 'T1', deduct_amount: '20000' } }],
      ['trade_info.deduct_amount', { trade_info: { out_trade_no: 'T1', deduct_amount: 100 } }],
      ['plan_id', { plan_id: 'NOT_MY_PLAN' }],
      ['real_identity.identity_type', { real_identity: { identity_type: 'PASSPORT', identity_id: 'x', real_name: 'y' } }],
    ] as const) {
      const res = await presign(presignBody(sut.fx, sut.rx.url('/c'), extra as Record<string, unknown>));
      expect(res.status, field).toBe(400);
      expect(detailOf(res.json)['field'], field).toBe(field);
    }
    const appid = await presign(presignBody(sut.fx, sut.rx.url('/c'), { appid: sut.fx.direct.appid }));
    expect(appid.json?.['code']).toBe('APPID_MCHID_NOT_MATCH');
    const direct = await v3(sut.sb.url, sut.fx.direct, { path: PRESIGN, body: presignBody(sut.fx, sut.rx.url('/c')), headers: serial() });
    expect(direct.status).toBe(403);
  });

  it('never reuses an out_contract_code: a second presign is INVALID_REQUEST', async () => {
    const body = presignBody(sut.fx, sut.rx.url('/c'));
    expect((await presign(body)).status).toBe(200);
    const again = await presign(body);
    expect(again.status).toBe(400);
    expect(again.json?.['code']).toBe('INVALID_REQUEST');
    expect(again.json?.['message']).toBe('out_contract_code已使用');
  });

  it('sign: SIGN_CONTRACT + DEDUCTION_PAY notifications, query EFFECTIVE, then terminate', async () => {
    const tradeNo = uniq('T');
    const body = presignBody(sut.fx, sut.rx.url('/sign'), {
      sub_mchid: '1900000109',
      trade_info: { out_trade_no: tradeNo, deduct_amount: '5000', attach: '备注', notify_url: sut.rx.url('/repay') },
    });
    const code = String(body['out_contract_code']);
    const res = await presign(body);
    const query = `/v3/credit-repayment/partner/contracts/${code}`;
    expect((await v3(sut.sb.url, sut.fx.partner, { path: query })).status).toBe(404);

    const signs = sut.rx.on('/sign').length;
    const repays = sut.rx.on('/repay').length;
    const act = await sandboxJson(sut.sb.url, '/sandbox/act', { url: res.json?.['redirect_url'], action: 'sign' });
    expect(act.json.ok).toBe(true);
    const s = open((await sut.rx.waitFor(signs + 1, '/sign'))[signs]!);
    expect(s.env.event_type).toBe('CREDIT_REPAYMENT.SIGN_CONTRACT');
    expect(s.env.resource.original_type).toBe('credit_repayment');
    expect(s.env.resource.associated_data).toBe('');
    expect(s.data).toMatchObject({
      mchid: sut.fx.partner.mchid,
      sub_mchid: '1900000109',
      appid: sut.fx.partner.appid,
      plan_id: sut.fx.partner.planId,
      out_contract_code: code,
      display_name: '**丰',
      contract_state: 'CONTRACT_STATE_EFFECTIVE',
      repayment_day: 1,
      repayment_amount_limit: 10000,
    });
    expect(JSON.stringify(s.data)).not.toContain(REAL_NAME);

    const r = open((await sut.rx.waitFor(repays + 1, '/repay'))[repays]!);
    expect(r.env.event_type).toBe('CREDIT_REPAYMENT.DEDUCTION_PAY');
    expect(r.env.resource.original_type).toBe('payscore');
    expect(r.data).toMatchObject({
      out_trade_no: tradeNo,
      contract_id: s.data['contract_id'],
      order_state: 'DEDUCT_ORDER_STATE_PAY_SUCCESS',
      deduct_amount: '5000',
      pay_success_amount: '5000',
      attach: '备注',
    });

    const q = await v3(sut.sb.url, sut.fx.partner, { path: query });
    expect(q.status).toBe(200);
    expect(q.json).toMatchObject({ contract_state: 'CONTRACT_STATE_EFFECTIVE', contract_id: s.data['contract_id'], openid: s.data['openid'] });
    const d = await v3(sut.sb.url, sut.fx.partner, { path: `/v3/credit-repayment/partner/deduct-orders/${tradeNo}` });
    expect(d.json?.['order_state']).toBe('DEDUCT_ORDER_STATE_PAY_SUCCESS');

    // signing twice is refused, the page says so
    const twice = await sandboxJson(sut.sb.url, '/sandbox/act', { url: res.json?.['redirect_url'], action: 'sign' });
    expect(twice.status).toBe(409);

    const terminated = await v3(sut.sb.url, sut.fx.partner, {
      path: '/v3/credit-repayment/partner/contracts/terminate',
      body: { out_contract_code: code, contract_termination_remark: '用户要求' },
    });
    expect(terminated.status).toBe(200);
    expect((terminated.json?.['contract_info'] as Record<string, unknown>)['contract_state']).toBe('CONTRACT_STATE_TERMINATED');
    const t = open((await sut.rx.waitFor(signs + 2, '/sign'))[signs + 1]!);
    expect(t.env.event_type).toBe('CREDIT_REPAYMENT.TERMINATE_CONTRACT');
    expect(t.data).toMatchObject({ contract_state: 'CONTRACT_STATE_TERMINATED', contract_terminated_mode: 'TERMINATION_MODE_BY_MERCHANT' });
    const again = await v3(sut.sb.url, sut.fx.partner, {
      path: '/v3/credit-repayment/partner/contracts/terminate',
      body: { out_contract_code: code, contract_termination_remark: 'x' },
    });
    expect(again.status).toBe(400);
  });

  it('decline: no contract, no notification, code stays used', async () => {
    const body = presignBody(sut.fx, sut.rx.url('/declined'));
    const res = await presign(body);
    const act = await sandboxJson(sut.sb.url, '/sandbox/act', { url: res.json?.['redirect_url'], action: 'decline' });
    expect(act.json.ok).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(sut.rx.on('/declined')).toHaveLength(0);
    expect((await v3(sut.sb.url, sut.fx.partner, { path: `/v3/credit-repayment/partner/contracts/${String(body['out_contract_code'])}` })).status).toBe(404);
    expect((await presign(body)).json?.['code']).toBe('INVALID_REQUEST');
  });

  it('the presign token expires after 10 minutes', async () => {
    const res = await presign(presignBody(sut.fx, sut.rx.url('/c')));
    sut.sb.clock.advance(601);
    try {
      const page = await fetch(String(res.json?.['redirect_url']));
      expect(page.status).toBe(410);
      const act = await sandboxJson(sut.sb.url, '/sandbox/act', { url: res.json?.['redirect_url'], action: 'sign' });
      expect(act.status).toBe(410);
    } finally {
      sut.sb.clock.advance(-601);
    }
  });

  it('user termination via /sandbox/act by out_contract_code', async () => {
    const body = presignBody(sut.fx, sut.rx.url('/user-term'));
    const res = await presign(body);
    await sandboxJson(sut.sb.url, '/sandbox/act', { url: res.json?.['redirect_url'], action: 'sign' });
    await sut.rx.waitFor(1, '/user-term');
    const term = await sandboxJson(sut.sb.url, '/sandbox/act', { out_contract_code: body['out_contract_code'], action: 'terminate' });
    expect(term.json.ok).toBe(true);
    const [, n] = await sut.rx.waitFor(2, '/user-term');
    expect(open(n!).data['contract_terminated_mode']).toBe('TERMINATION_MODE_BY_USER');
  });

  it('debug listings carry the mask only', async () => {
    const { json } = await sandboxJson(sut.sb.url, '/sandbox/contracts');
    const text = JSON.stringify(json);
    expect(json.repayment.length).toBeGreaterThan(0);
    expect(text).not.toContain(REAL_NAME);
    expect(text).not.toContain(ID_NUMBER);
  });
});
