import { describe, expect, it } from 'vitest';
import { beijingTime, parseWechatTime, wechatTime } from '../../../shared/http/time';
import { toView as h5View, type H5OrderRecord } from '../../../shared/h5-payment/record';
import { toAnswer as contractAnswer, toView as contractView, type ContractCodeRecord, type ContractOrderRecord } from '../../../shared/contract-order/record';
import { toAnswer as presignAnswer, toView as repaymentView, type RepaymentContractRecord, type RepaymentRecord } from '../../../shared/repayment-contract/record';

const RFC3339_BEIJING = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/;
const AT = Date.UTC(2026, 11, 3, 11, 14, 0, 789); // 2026-12-03T19:14:00.789+08:00

describe('shared/http/time', () => {
  it('formats epoch ms as RFC 3339 in Beijing time, whole seconds rounded down', () => {
    expect(beijingTime(AT)).toBe('2026-12-03T19:14:00+08:00');
    expect(beijingTime(Date.UTC(2026, 11, 31, 16, 0, 0))).toBe('2027-01-01T00:00:00+08:00');
    expect(beijingTime(0)).toBe('1970-01-01T08:00:00+08:00');
  });

  it('reads every format WeChat sends, as the same instant', () => {
    const instant = Date.UTC(2026, 11, 3, 11, 14, 0);
    for (const value of ['2026-12-03T19:14:00+08:00', '2026-12-03T11:14:00Z', '2026-12-03T06:14:00-05:00', '20261203191400', '2026-12-03 19:14:00']) {
      expect(parseWechatTime(value), value).toBe(instant);
      expect(wechatTime(value), value).toBe('2026-12-03T19:14:00+08:00');
    }
    expect(parseWechatTime('2026-12-03T19:14:00.250+08:00')).toBe(instant + 250);
  });

  it('refuses what is not a real time rather than guessing', () => {
    for (const value of ['', 'yesterday', '20261332000000', '2026-02-30 10:00:00', '2026-12-03T24:00:00+08:00', '2026-12-03T19:14:00', '1764760440']) {
      expect(wechatTime(value), value).toBeUndefined();
    }
    expect(wechatTime(undefined)).toBeUndefined();
  });
});

/** Every string field whose name says it is a time, at any depth. */
function times(value: unknown, path = ''): Array<[string, string]> {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => {
    const here = path ? `${path}.${key}` : key;
    if (typeof item === 'string' && /(_at|_time|^time_end)$/.test(key)) return [[here, item] as [string, string]];
    return times(item, here);
  });
}

describe('one time format in every view and answer', () => {
  it('H5 order: our times and WeChat success_time', () => {
    const record = {
      out_trade_no: 'T1', state: 'SUCCESS', amount_total: 1, currency: 'CNY', h5_url: 'https://x', h5_url_expires_at: AT + 300_000,
      success_time: '2026-12-03T19:15:00+08:00', created_at: AT, updated_at: AT + 1,
    } as unknown as H5OrderRecord;
    const view = h5View({ ...record, state: 'NOTPAY', success_time: undefined } as H5OrderRecord, AT);
    const paid = h5View(record, AT);
    const found = [...times(view), ...times(paid)];
    expect(found.map(([k]) => k).sort()).toEqual(['created_at', 'created_at', 'h5_url_expires_at', 'success_time', 'updated_at', 'updated_at']);
    for (const [key, value] of found) expect(value, key).toMatch(RFC3339_BEIJING);
  });

  it('contract order: yyyyMMddHHmmss time_end, zone-less signed_at, our expiries; plan_id an integer', () => {
    const order = {
      out_trade_no: 'O1', contract_code: 'C1', trade_type: 'MWEB', total_fee: 888, state: 'SUCCESS', plan_id: '123',
      prepay_id: 'wx1', prepay_expires_at: AT + 7_200_000, mweb_url: 'https://m', mweb_url_expires_at: AT + 300_000,
      time_end: '20261203191500', created_at: AT, updated_at: AT,
    } as unknown as ContractOrderRecord;
    const code = {
      contract_code: 'C1', out_trade_no: 'O1', plan_id: '123', state: 'SIGNED', contract_id: 'Wx1',
      signed_at: '2026-12-03 19:15:01', terminated_at: '2026-12-04 10:00:00', contract_expired_time: '2027-12-03 19:15:01', updated_at: AT,
    } as unknown as ContractCodeRecord;
    const view = contractView(order, code);
    const answer = contractAnswer(order);
    const found = [...times(view), ...times(answer)].filter(([k]) => k !== 'payment.time_end_raw');
    expect(found.length).toBe(8);
    for (const [key, value] of found) expect(value, key).toMatch(RFC3339_BEIJING);
    expect(view.payment).toMatchObject({ time_end: '2026-12-03T19:15:00+08:00', time_end_raw: '20261203191500' });
    expect(view.contract.signed_at).toBe('2026-12-03T19:15:01+08:00');
    expect(view.contract.plan_id).toBe(123);
  });

  it('repayment contract: our times, WeChat signed / terminated / success times', () => {
    const record = {
      out_contract_code: 'OC1', state: 'PRESIGNED', redirect_url: 'https://r', redirect_url_expires_at: AT + 600_000, plan_id: 'P1',
      contract_signed_time: '2026-12-03T19:20:00+08:00', contract_terminated_time: '2026-12-04T11:20:00Z', created_at: AT, updated_at: AT,
    } as unknown as RepaymentContractRecord;
    const repayment = { out_trade_no: 'T1', deduct_amount: '1', state: 'SUCCESS', success_time: '2026-12-03T19:21:00+08:00' } as unknown as RepaymentRecord;
    const view = repaymentView(record, repayment, AT);
    const found = [...times(view), ...times(presignAnswer(record, AT))];
    expect(found.map(([k]) => k).sort()).toEqual([
      'contract_signed_time', 'contract_terminated_time', 'created_at', 'first_repayment.success_time', 'redirect_url_expires_at', 'redirect_url_expires_at', 'updated_at',
    ]);
    for (const [key, value] of found) expect(value, key).toMatch(RFC3339_BEIJING);
    expect(view.contract_terminated_time).toBe('2026-12-04T19:20:00+08:00');
  });
});
