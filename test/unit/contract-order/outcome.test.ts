import { describe, expect, it } from 'vitest';
import { classifyAnswer, classifyError, refusalError } from '../../../shared/contract-order/outcome';
import { answerIsUsable, toView, type ContractCodeRecord, type ContractOrderRecord } from '../../../shared/contract-order/record';
import { ServiceError } from '../../../shared/http/errors';
import {
  MalformedResponseError,
  ResponseVerificationError,
  V2SignatureError,
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayV2ReturnError,
} from '../../../shared/wechatpay';

const expected = { outTradeNo: 'PAP0001', contractCode: 'C0001', tradeType: 'JSAPI' as const };
const success = {
  return_code: 'SUCCESS',
  result_code: 'SUCCESS',
  appid: 'wx8888888888888888',
  mch_id: '1900000001',
  prepay_id: 'wx201410272009395522657a690389285100',
  trade_type: 'JSAPI',
  out_trade_no: 'PAP0001',
  contract_code: 'C0001',
  contract_result_code: 'SUCCESS',
};
const fail = (fields: Record<string, string>) => ({ return_code: 'SUCCESS', result_code: 'FAIL', ...fields });

describe('reading a contractorder answer', () => {
  it('success → ok with the links the trade type needs', () => {
    expect(classifyAnswer(success, expected)).toEqual({ kind: 'ok', prepayId: success.prepay_id });
    expect(
      classifyAnswer({ ...success, trade_type: 'NATIVE', code_url: 'weixin://wxpay/s/An4baqw' }, { ...expected, tradeType: 'NATIVE' }),
    ).toMatchObject({ kind: 'ok', codeUrl: 'weixin://wxpay/s/An4baqw' });
    expect(classifyAnswer({ ...success, trade_type: 'MWEB', mweb_url: 'https://wx.tenpay.com/x' }, { ...expected, tradeType: 'MWEB' })).toMatchObject({
      kind: 'ok',
      mwebUrl: 'https://wx.tenpay.com/x',
    });
  });

  it('an incomplete or foreign success is not a result (unknown): no prepay_id, no code_url/mweb_url, other order', () => {
    expect(classifyAnswer({ ...success, prepay_id: '' }, expected).kind).toBe('unknown');
    expect(classifyAnswer({ ...success, trade_type: 'NATIVE' }, { ...expected, tradeType: 'NATIVE' }).kind).toBe('unknown');
    expect(classifyAnswer({ ...success, trade_type: 'MWEB' }, { ...expected, tradeType: 'MWEB' }).kind).toBe('unknown');
    expect(classifyAnswer({ ...success, out_trade_no: 'OTHER' }, expected).kind).toBe('unknown');
    expect(classifyAnswer({ ...success, contract_code: 'OTHER' }, expected).kind).toBe('unknown');
    expect(classifyAnswer({ return_code: 'SUCCESS' }, expected).kind).toBe('unknown');
  });

  it('SYSTEMERROR → unknown (retry with the same parameters)', () => {
    expect(classifyAnswer(fail({ err_code: 'SYSTEMERROR', err_code_des: '系统超时' }), expected)).toEqual({ kind: 'unknown', reason: 'err_code SYSTEMERROR' });
  });

  it('CONTRACT_CODE DUPLICATION consumes the code, not the order', () => {
    const out = classifyAnswer(
      fail({ err_code: 'CONTRACT_CODE DUPLICATION', err_code_des: '该签约号已存在', contract_result_code: 'FAIL', contract_err_code: 'CONTRACT_CODE DUPLICATION' }),
      expected,
    );
    expect(out).toMatchObject({ kind: 'refused', consumes: { order: false, code: true } });
  });

  it('"201 商户订单号重复", ORDERPAID, ORDERCLOSED consume the order, not the code', () => {
    for (const fields of [
      { err_code: 'INVALID_REQUEST', err_code_des: '201 商户订单号重复' },
      { err_code: 'ORDERPAID', err_code_des: '该订单已支付' },
      { err_code: 'ORDERCLOSED', err_code_des: '该订单已关闭' },
    ]) {
      expect(classifyAnswer(fail(fields), expected)).toMatchObject({ kind: 'refused', consumes: { order: true, code: false } });
    }
  });

  it('any other refusal consumes nothing', () => {
    for (const err_code of ['PARAMETER FAIL', 'INVALID PLAN_ID', 'MERCHANT PERMISSION ERROR', 'MERCHANT AUTHORITY ERROR', 'PARAM_ERROR', 'INVALID_REQUEST']) {
      expect(classifyAnswer(fail({ err_code, err_code_des: 'x' }), expected)).toMatchObject({
        kind: 'refused',
        refusal: { result_code: 'FAIL', err_code, err_code_des: 'x' },
        consumes: { order: false, code: false },
      });
    }
  });

  it('checklist papay #21: order made but pre-signing refused → ok (payable), with the contract refusal; without a prepay_id → refused, both consumed', () => {
    const out = classifyAnswer({ ...success, contract_result_code: 'FAIL', contract_err_code: 'Fail', contract_err_code_des: '已签约' }, expected);
    expect(out).toMatchObject({
      kind: 'ok',
      prepayId: success.prepay_id,
      contractRefusal: { result_code: 'SUCCESS', contract_result_code: 'FAIL', contract_err_code: 'Fail', contract_err_code_des: '已签约' },
    });
    const { prepay_id: _p, ...noPrepay } = success;
    expect(classifyAnswer({ ...noPrepay, contract_result_code: 'FAIL', contract_err_code: 'Fail' }, expected)).toMatchObject({
      kind: 'refused',
      consumes: { order: true, code: true },
    });
  });
});

describe('reading a failed call', () => {
  it('transport failures, 5xx, unverifiable and malformed answers → unknown', () => {
    for (const error of [
      new WechatPayTransportError('timeout', 'timed out'),
      new WechatPayTransportError('connection', 'refused'),
      new WechatPayApiError({ status: 503, code: 'HTTP_503', message: 'x' }),
      new ResponseVerificationError(new V2SignatureError('mismatch', 'x'), 200),
      new MalformedResponseError('not xml', 200),
    ]) {
      expect(classifyError(error).kind).toBe('unknown');
    }
  });

  it('return_code FAIL → not accepted (502, nothing consumed), with WeChat\'s message', () => {
    const out = classifyError(new WechatPayV2ReturnError('FAIL', '签名错误'));
    expect(out.kind).toBe('not_accepted');
    if (out.kind !== 'not_accepted') return;
    expect(out.error.status).toBe(502);
    expect(out.error.extra.wechatpay).toEqual({ return_code: 'FAIL', return_msg: '签名错误' });
  });

  it('a bug is thrown on', () => {
    expect(() => classifyError(new TypeError('oops'))).toThrow(TypeError);
  });
});

describe('the error a refusal becomes (the same on every replay)', () => {
  it('CONTRACT_CODE DUPLICATION → 409 carrying the six fields', () => {
    const refusal = { result_code: 'FAIL', err_code: 'CONTRACT_CODE DUPLICATION', err_code_des: '该签约号已存在' };
    const error = refusalError(refusal);
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.status).toBe(409);
    expect(error.code).toBe('CONTRACT_CODE DUPLICATION');
    expect(error.extra.wechatpay).toEqual(refusal);
  });

  it('"201 商户订单号重复" → 409 INVALID_REQUEST', () => {
    const error = refusalError({ result_code: 'FAIL', err_code: 'INVALID_REQUEST', err_code_des: '201 商户订单号重复' });
    expect([error.status, error.code]).toEqual([409, 'INVALID_REQUEST']);
  });

  it('other refusals → 422 with err_code, or contract_err_code when only the contract failed', () => {
    expect(refusalError({ result_code: 'FAIL', err_code: 'INVALID PLAN_ID', err_code_des: '签约模板无效' })).toMatchObject({ status: 422, code: 'INVALID PLAN_ID' });
    const contractOnly = refusalError({ result_code: 'SUCCESS', contract_result_code: 'FAIL', contract_err_code: 'Fail', contract_err_code_des: '已签约' });
    expect(contractOnly).toMatchObject({ status: 422, code: 'Fail' });
    expect(contractOnly.message).toContain('已签约');
    expect(contractOnly.extra.wechatpay).toEqual({ result_code: 'SUCCESS', contract_result_code: 'FAIL', contract_err_code: 'Fail', contract_err_code_des: '已签约' });
  });
});

describe('stored answers and the view', () => {
  const now = 1_750_000_000_000;
  const order = {
    pk: 'PAPORDER#PAP0001',
    sk: 'ORDER',
    kind: 'CONTRACT_ORDER',
    fingerprint: 'f',
    claim_status: 'DONE',
    created_at: now,
    updated_at: now,
    out_trade_no: 'PAP0001',
    mchid: '1900000001',
    appid: 'wx8888888888888888',
    total_fee: 888,
    trade_type: 'JSAPI',
    contract_code: 'C0001',
    plan_id: '12535',
    state: 'NOTPAY',
    prepay_id: 'wx1',
    prepay_expires_at: now + 7_200_000,
  } satisfies ContractOrderRecord;

  it('a prepay_id is replayed for 2 h (less a margin), an MWEB link for 5 min', () => {
    expect(answerIsUsable(order, now + 7_000_000)).toBe(true);
    expect(answerIsUsable(order, now + 7_199_000)).toBe(false);
    const mweb = { ...order, trade_type: 'MWEB' as const, mweb_url: 'https://x', mweb_url_expires_at: now + 300_000 };
    expect(answerIsUsable(mweb, now + 200_000)).toBe(true);
    expect(answerIsUsable(mweb, now + 300_000)).toBe(false);
  });

  it('the view joins payment and contract state, without openid', () => {
    const code: ContractCodeRecord = {
      pk: 'PAPCODE#C0001',
      sk: 'CODE',
      kind: 'CONTRACT_CODE',
      fingerprint: 'f',
      claim_status: 'DONE',
      created_at: now,
      updated_at: now + 10,
      contract_code: 'C0001',
      out_trade_no: 'PAP0001',
      mchid: '1900000001',
      plan_id: '12535',
      state: 'SIGNED',
      contract_id: 'Wx1',
      signed_at: '2026-01-01 10:00:00',
    };
    const view = toView({ ...order, state: 'SUCCESS', transaction_id: '4200', cash_fee: 888, time_end: '20260101100000' }, code);
    expect(view).toMatchObject({
      out_trade_no: 'PAP0001',
      payment: {
        state: 'SUCCESS',
        transaction_id: '4200',
        total_fee: 888,
        cash_fee: 888,
        time_end: '2026-01-01T10:00:00+08:00',
        time_end_raw: '20260101100000',
      },
      contract: { contract_code: 'C0001', plan_id: 12535, state: 'SIGNED', contract_id: 'Wx1', signed_at: '2026-01-01T10:00:00+08:00' },
    });
    expect(view.updated_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    expect(Date.parse(view.updated_at)).toBe(Math.floor((now + 10) / 1000) * 1000);
    expect(JSON.stringify(view)).not.toContain('openid');
    // A code record that belongs to another order says nothing about this one.
    expect(toView(order, { ...code, out_trade_no: 'OTHER' }).contract.state).toBe('PENDING');
  });
});
