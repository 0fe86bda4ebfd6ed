import { describe, expect, it } from 'vitest';
import {
  FORWARD_FROM,
  PRESIGN_TOKEN_TTL_MS,
  refusalError,
  toAnswer,
  toView,
  visibleState,
  type ContractState,
  type RepaymentContractRecord,
} from '../../../shared/repayment-contract/record';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const record = (over: Partial<RepaymentContractRecord> = {}): RepaymentContractRecord => ({
  pk: 'CONTRACT#RC1',
  sk: 'CONTRACT',
  kind: 'REPAYMENT_CONTRACT',
  out_contract_code: 'RC1',
  fingerprint: 'fp',
  claim_status: 'DONE',
  state: 'PRESIGNED',
  redirect_url: 'https://wx.example/sign?presign_token=t',
  presigned_at: T0,
  redirect_url_expires_at: T0 + PRESIGN_TOKEN_TTL_MS,
  created_at: T0,
  updated_at: T0,
  ...over,
});

describe('contract view', () => {
  it('shows the redirect_url while the 10-minute token lives, then EXPIRED without it', () => {
    expect(toAnswer(record(), T0 + 1)).toEqual({
      out_contract_code: 'RC1',
      state: 'PRESIGNED',
      redirect_url: 'https://wx.example/sign?presign_token=t',
      redirect_url_expires_at: '2026-01-01T08:10:00+08:00',
    });
    const later = T0 + PRESIGN_TOKEN_TTL_MS;
    expect(visibleState(record(), later)).toBe('EXPIRED');
    expect(toView(record(), undefined, later)).not.toHaveProperty('redirect_url');
    expect(toView(record(), undefined, later).state).toBe('EXPIRED');
  });

  it('never shows the link of a signed contract, and hides our in-flight states', () => {
    expect(toView(record({ state: 'SIGNED', contract_id: 'C1' }), undefined, T0 + 1)).toMatchObject({ state: 'SIGNED', contract_id: 'C1' });
    expect(toView(record({ state: 'SIGNED' }), undefined, T0 + 1)).not.toHaveProperty('redirect_url');
    expect(visibleState(record({ state: 'UNCERTAIN' }), T0)).toBeUndefined();
    expect(visibleState(record({ state: 'PRESIGNING' }), T0)).toBeUndefined();
  });

  it('shows the stored refusal of a REJECTED presign, and the same error every time', () => {
    const refusal = { status: 422, code: 'PARAM_ERROR', message: '模板ID不存在', wechatpay: { status: 400, code: 'PARAM_ERROR', message: '模板ID不存在', field: 'plan_id' } };
    const view = toView(record({ state: 'REJECTED', refusal, redirect_url: undefined }), undefined, T0);
    expect(view.error).toEqual({ code: 'PARAM_ERROR', message: '模板ID不存在', wechatpay: refusal.wechatpay });
    const error = refusalError(refusal);
    expect([error.status, error.code]).toEqual([422, 'PARAM_ERROR']);
  });

  it('moves forward only: nothing leaves TERMINATED, and SIGNED never goes back to PRESIGNED or EXPIRED', () => {
    for (const from of Object.values(FORWARD_FROM)) expect(from).not.toContain('TERMINATED' satisfies ContractState);
    expect(FORWARD_FROM.PRESIGNED).not.toContain('SIGNED');
    expect(FORWARD_FROM.EXPIRED).toEqual(['PRESIGNED']);
    expect(FORWARD_FROM.TERMINATED).toContain('PRESIGNED'); // a TERMINATE before its SIGN still terminates
    expect(FORWARD_FROM.SIGNED).toContain('EXPIRED'); // a late SIGN beats our own expiry verdict
  });
});
