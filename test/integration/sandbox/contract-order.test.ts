import { describe, expect, it } from 'vitest';
import { sandboxUnderTest } from './support/lifecycle';
import { contractOrder, orderQuery, postXml, sandboxJson, v3 } from './support/client';
import { Receiver, V2_SUCCESS } from './support/receiver';
import { contractOrderFields } from './support/requests';
import { v2Sign, v2Xml } from './support/signer';
import { parseXml, verifyV2 } from './support/verify';

const sut = sandboxUnderTest();


const fields = (extra: Record<string, string> = {}, pay = '/pay', contract = '/contract'): Record<string, string> =>
  contractOrderFields(sut.fx.direct, sut.rx.url(pay), sut.rx.url(contract), extra);
const key = (): string => sut.fx.direct.apiV2Key as string;

describe('test signer', () => {
  it('reproduces the official APIv2 sample (V10)', () => {
    const sample = { appid: 'wxd930ea5d5a258f4f', mch_id: '10000100', device_info: '1000', body: 'test', nonce_str: 'ibuaiVcKdpRxkhJA' };
    expect(v2Sign(sample, '192006250b4c09247ec02edce69f6a2d', 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(v2Sign(sample, '192006250b4c09247ec02edce69f6a2d', 'HMAC-SHA256')).toBe(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });
});

describe('POST /pay/contractorder', () => {
  it('refuses a bad sign with return_code FAIL / 签名错误', async () => {
    const f = fields();
    f['sign'] = v2Sign(f, 'X'.repeat(32));
    const res = await contractOrder(sut.sb.url, f, key());
    expect(res.fields['return_code']).toBe('FAIL');
    expect(res.fields['return_msg']).toBe('签名错误');
    const lower = fields();
    lower['sign'] = v2Sign(lower, key()).toLowerCase();
    expect((await contractOrder(sut.sb.url, lower, key())).fields['return_msg']).toBe('签名错误');
  });

  it('rejects DTDs, entities and malformed XML', async () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><mch_id>&e;</mch_id></xml>`;
    const res = await postXml(sut.sb.url, '/pay/contractorder', xxe);
    expect(res.fields['return_code']).toBe('FAIL');
    expect((await postXml(sut.sb.url, '/pay/contractorder', '<xml><a>1</a>')).fields['return_code']).toBe('FAIL');
    expect((await postXml(sut.sb.url, '/pay/contractorder', '{"json":true}')).fields['return_code']).toBe('FAIL');
  });

  it.each(['MD5', 'HMAC-SHA256'] as const)('succeeds (%s) with a response sign that verifies under the peer library', async (type) => {
    const f = fields();
    const res = await contractOrder(sut.sb.url, f, key(), type);
    expect(res.status).toBe(200);
    expect(res.fields).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      appid: sut.fx.direct.appid,
      mch_id: sut.fx.direct.mchid,
      trade_type: 'MWEB',
      plan_id: sut.fx.direct.planId,
      contract_code: f['contract_code'],
      request_serial: f['request_serial'],
      contract_display_account: '微信代扣',
      out_trade_no: f['out_trade_no'],
      contract_result_code: 'SUCCESS',
    });
    expect(res.fields['prepay_id']).toMatch(/^wx\d{14}/);
    expect(res.fields['mweb_url']).toContain(`${sut.sb.url}/pay/mweb?prepay_id=`);
    expect(res.fields['sign']).toHaveLength(type === 'MD5' ? 32 : 64);
    expect(verifyV2(res.fields, key())).toBe(true);
    expect(verifyV2({ ...res.fields, out_trade_no: 'tampered' }, key())).toBe(false);
  });

  it('NATIVE returns code_url; JSAPI needs openid; NATIVE needs product_id', async () => {
    const native = await contractOrder(sut.sb.url, fields({ trade_type: 'NATIVE', product_id: 'P1' }), key());
    expect(native.fields['code_url']).toMatch(/^weixin:\/\/wxpay\/s\//);
    expect(native.fields['mweb_url']).toBeUndefined();
    const jsapi = await contractOrder(sut.sb.url, fields({ trade_type: 'JSAPI' }), key());
    expect(jsapi.fields).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'PARAM_ERROR' });
    expect(jsapi.fields['err_code_des']).toContain('openid');
    expect(verifyV2(jsapi.fields, key())).toBe(true);
    const noProduct = await contractOrder(sut.sb.url, fields({ trade_type: 'NATIVE' }), key());
    expect(noProduct.fields['err_code_des']).toContain('product_id');
  });

  it.each([
    ['contract_mchid', { contract_mchid: '1234567890' }],
    ['contract_appid', { contract_appid: 'wx0000000000000000' }],
    ['spbill_create_ip', { spbill_create_ip: '2001:db8::1' }],
    ['trade_type', { trade_type: 'H5' }],
    ['request_serial', { request_serial: '0123' }],
    ['contract_display_account', { contract_display_account: '代扣😀' }],
    ['notify_url', { notify_url: 'https://x.example.com/n?q=1' }],
    ['total_fee', { total_fee: '0' }],
    ['contract_code', { contract_code: 'has_underscore' }],
  ])('rejects a bad %s with result_code FAIL', async (name, extra) => {
    const res = await contractOrder(sut.sb.url, fields(extra), key());
    expect(res.fields['return_code']).toBe('SUCCESS');
    expect(res.fields['result_code']).toBe('FAIL');
    expect(res.fields['err_code']).toBe('PARAM_ERROR');
    expect(res.fields['err_code_des']).toContain(name);
  });

  it('missing field, unknown plan and unbound appid', async () => {
    const f = fields();
    delete f['contract_notify_url'];
    expect((await contractOrder(sut.sb.url, f, key())).fields['err_code_des']).toContain('contract_notify_url');
    expect((await contractOrder(sut.sb.url, fields({ plan_id: '99999999' }), key())).fields['err_code']).toBe('INVALID PLAN_ID');
    const appid = fields({ appid: sut.fx.partner.appid, contract_appid: sut.fx.partner.appid });
    expect((await contractOrder(sut.sb.url, appid, key())).fields['err_code']).toBe('APPID_MCHID_NOT_MATCH');
  });

  it('out_trade_no reuse: same body = same prepay_id, different body = 201 商户订单号重复; contract codes are unique', async () => {
    const f = fields();
    const first = await contractOrder(sut.sb.url, f, key());
    const same = await contractOrder(sut.sb.url, { ...f, nonce_str: 'another' }, key());
    expect(same.fields['result_code']).toBe('SUCCESS');
    expect(same.fields['prepay_id']).toBe(first.fields['prepay_id']);
    const changed = await contractOrder(sut.sb.url, { ...f, total_fee: '889' }, key());
    expect(changed.fields).toMatchObject({ result_code: 'FAIL', err_code: 'INVALID_REQUEST', err_code_des: '201 商户订单号重复' });
    const dup = await contractOrder(sut.sb.url, fields({ contract_code: f['contract_code'] as string }), key());
    expect(dup.fields).toMatchObject({ result_code: 'FAIL', err_code: 'CONTRACT_CODE DUPLICATION' });
    expect(verifyV2(dup.fields, key())).toBe(true);
  });

  it('pay via mweb_url: payment + contract ADD notifications, signed and acknowledged', async () => {
    const f = fields({ attach: '深圳分店' }, '/pay-1', '/contract-1');
    const res = await contractOrder(sut.sb.url, f, key(), 'HMAC-SHA256');
    const page = await (await fetch(res.fields['mweb_url'] as string)).text();
    expect(page).toContain('¥8.88');
    expect(page).toContain('微信代扣');
    const act = await sandboxJson(sut.sb.url, '/sandbox/act', { url: res.fields['mweb_url'], action: 'pay' });
    expect(act.json.ok).toBe(true);
    const [p] = await sut.rx.waitFor(1, '/pay-1');
    const [c] = await sut.rx.waitFor(1, '/contract-1');
    const pay = parseXml(p!.body);
    expect(verifyV2(pay, key())).toBe(true);
    expect(pay).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      sign_type: 'HMAC-SHA256',
      appid: sut.fx.direct.appid,
      mch_id: sut.fx.direct.mchid,
      trade_type: 'MWEB',
      total_fee: '888',
      cash_fee: '888',
      out_trade_no: f['out_trade_no'],
      attach: '深圳分店',
    });
    expect(pay['time_end']).toMatch(/^\d{14}$/);
    const contract = parseXml(c!.body);
    expect(verifyV2(contract, key())).toBe(true);
    expect(contract).toMatchObject({
      result_code: 'SUCCESS',
      mch_id: sut.fx.direct.mchid,
      contract_code: f['contract_code'],
      plan_id: sut.fx.direct.planId,
      change_type: 'ADD',
      request_serial: f['request_serial'],
      openid: pay['openid'],
    });
    expect(contract['operate_time']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(contract['contract_id']).toMatch(/^Wx\d+$/);
    // the payment is visible to the v3 query as well
    const q = await v3(sut.sb.url, sut.fx.direct, { path: `/v3/pay/transactions/out-trade-no/${f['out_trade_no']}?mchid=${sut.fx.direct.mchid}` });
    expect(q.json).toMatchObject({ trade_state: 'SUCCESS', trade_type: 'MWEB' });
    // reorder after payment
    expect((await contractOrder(sut.sb.url, f, key(), 'HMAC-SHA256')).fields['err_code']).toBe('ORDERPAID');

    // terminate → DELETE
    const term = await sandboxJson(sut.sb.url, '/sandbox/act', { contract_code: f['contract_code'], action: 'terminate' });
    expect(term.json.ok).toBe(true);
    const [, del] = await sut.rx.waitFor(2, '/contract-1');
    expect(parseXml(del!.body)).toMatchObject({ change_type: 'DELETE', contract_termination_mode: '2' });
  });

  it('non-MWEB orders are paid by out_trade_no; a v2 receiver answering wrong XML gets a re-send', async () => {
    let n = 0;
    const picky = await Receiver.start(() => {
      n += 1;
      return n === 1 ? { status: 200, body: 'success', contentType: 'text/plain' } : { status: 200, body: V2_SUCCESS, contentType: 'text/xml' };
    });
    try {
      const f = contractOrderFields(sut.fx.direct, picky.url('/pay'), sut.rx.url('/contract-2'), { trade_type: 'APP' });
      await contractOrder(sut.sb.url, f, key());
      const act = await sandboxJson(sut.sb.url, '/sandbox/act', { out_trade_no: f['out_trade_no'], action: 'pay' });
      expect(act.json.ok).toBe(true);
      await picky.waitFor(2);
      await new Promise((r) => setTimeout(r, 200));
      expect(picky.received).toHaveLength(2);
      expect(picky.received[0]?.body).toBe(picky.received[1]?.body);
      const log = sut.sb.notifications.list().filter((a) => a.target === picky.url('/pay'));
      expect(log.map((a) => [a.attempt, a.ok])).toEqual([
        [1, false],
        [2, true],
      ]);
    } finally {
      await picky.close();
    }
  });

  it('JSAPI uses the given openid', async () => {
    const f = fields({ trade_type: 'JSAPI', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, '/pay-3', '/contract-3');
    await contractOrder(sut.sb.url, f, key());
    await sandboxJson(sut.sb.url, '/sandbox/act', { out_trade_no: f['out_trade_no'], action: 'pay' });
    const [p] = await sut.rx.waitFor(1, '/pay-3');
    expect(parseXml(p!.body)['openid']).toBe('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
  });

  it('FAIL answers for unknown merchants and XML with a wrong mch_id key', async () => {
    const f = fields({ mch_id: '1000000000', contract_mchid: '1000000000' });
    const res = await postXml(sut.sb.url, '/pay/contractorder', v2Xml({ ...f, sign: v2Sign(f, key()) }));
    expect(res.fields['return_code']).toBe('FAIL');
  });
});

describe('POST /pay/orderquery', () => {
  const ids = (): Record<string, string> => ({ appid: sut.fx.direct.appid, mch_id: sut.fx.direct.mchid });

  it('refuses a bad sign, an unknown merchant and malformed XML with an unsigned return_code FAIL', async () => {
    const bad = { ...ids(), out_trade_no: 'whatever1', nonce_str: 'n1' };
    const res = await orderQuery(sut.sb.url, { ...bad, sign: v2Sign(bad, 'X'.repeat(32)) }, key());
    expect(res.fields).toEqual({ return_code: 'FAIL', return_msg: '签名错误' });
    const hmac = await orderQuery(sut.sb.url, { ...bad, sign_type: 'HMAC-SHA256', sign: v2Sign(bad, key(), 'MD5') }, key());
    expect(hmac.fields['return_msg']).toBe('签名错误');
    const stranger = { appid: sut.fx.direct.appid, mch_id: '1000000000', out_trade_no: 'whatever1' };
    expect((await orderQuery(sut.sb.url, stranger, key())).fields['return_code']).toBe('FAIL');
    expect((await postXml(sut.sb.url, '/pay/orderquery', '<xml><a>1</a>')).fields['return_code']).toBe('FAIL');
  });

  it('unknown order → result_code FAIL ORDERNOTEXIST (signed); no id at all → PARAM_ERROR', async () => {
    const res = await orderQuery(sut.sb.url, { ...ids(), out_trade_no: 'nosuchorder1' }, key());
    expect(res.fields).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
    expect(verifyV2(res.fields, key())).toBe(true);
    const byTx = await orderQuery(sut.sb.url, { ...ids(), transaction_id: '4200000000000000000000000000' }, key(), 'HMAC-SHA256');
    expect(byTx.fields).toMatchObject({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST' });
    expect(verifyV2(byTx.fields, key())).toBe(true);
    expect((await orderQuery(sut.sb.url, ids(), key())).fields).toMatchObject({ result_code: 'FAIL', err_code: 'PARAM_ERROR' });
  });

  it.each(['MD5', 'HMAC-SHA256'] as const)('known order (%s): NOTPAY, then SUCCESS with the payment facts', async (type) => {
    const f = fields({ attach: 'a1' }, `/pay-q-${type}`, `/contract-q-${type}`);
    await contractOrder(sut.sb.url, f, key(), type);
    const unpaid = await orderQuery(sut.sb.url, { ...ids(), out_trade_no: f['out_trade_no'] as string }, key(), type);
    expect(verifyV2(unpaid.fields, key())).toBe(true);
    expect(unpaid.fields).toMatchObject({
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      appid: sut.fx.direct.appid,
      mch_id: sut.fx.direct.mchid,
      out_trade_no: f['out_trade_no'],
      trade_type: 'MWEB',
      trade_state: 'NOTPAY',
      trade_state_desc: '订单未支付',
      total_fee: '888',
      attach: 'a1',
    });
    expect(unpaid.fields['transaction_id']).toBeUndefined();

    const act = await sandboxJson(sut.sb.url, '/sandbox/act', { out_trade_no: f['out_trade_no'], action: 'pay' });
    expect(act.json.ok).toBe(true);
    const paid = await orderQuery(sut.sb.url, { ...ids(), out_trade_no: f['out_trade_no'] as string }, key(), type);
    expect(verifyV2(paid.fields, key())).toBe(true);
    expect(paid.fields['sign']).toHaveLength(type === 'MD5' ? 32 : 64);
    expect(paid.fields).toMatchObject({
      result_code: 'SUCCESS',
      trade_state: 'SUCCESS',
      transaction_id: act.json.target.transaction_id,
      total_fee: '888',
      cash_fee: '888',
      bank_type: 'OTHERS',
      trade_type: 'MWEB',
    });
    expect(paid.fields['time_end']).toMatch(/^\d{14}$/);
    expect(paid.fields['openid']).not.toBe('');
    const byTx = await orderQuery(sut.sb.url, { ...ids(), transaction_id: paid.fields['transaction_id'] as string }, key());
    expect(byTx.fields).toMatchObject({ trade_state: 'SUCCESS', out_trade_no: f['out_trade_no'] });
  });

  it('answers SYSTEMERROR in band under the systemError fault', async () => {
    await sandboxJson(sut.sb.url, '/sandbox/faults', { systemError: 1, match: '/pay/orderquery' });
    const res = await orderQuery(sut.sb.url, { ...ids(), out_trade_no: 'nosuchorder2' }, key());
    expect(res.fields).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'SYSTEMERROR' });
  });
});
