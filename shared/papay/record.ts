import type { ClaimedRecord } from '../store/claims';
import { beijingTime, wechatTime } from '../http/time';

/**
 * A papay deduction (`/pay/pappayapply`). Ours: CREATING while the call is in flight, UNCERTAIN when its answer
 * was lost (only the identical request may go on: one out_trade_no is charged once), REJECTED when WeChat refused
 * it. WeChat's: ACCEPTED (accepted, not charged yet), SUCCESS, PAY_FAIL, CLOSED.
 */
export type DeductionState = 'CREATING' | 'UNCERTAIN' | 'REJECTED' | 'ACCEPTED' | 'SUCCESS' | 'PAY_FAIL' | 'CLOSED';

export const DEDUCTION_FORWARD_FROM: Record<'ACCEPTED' | 'SUCCESS' | 'PAY_FAIL' | 'CLOSED', readonly DeductionState[]> = {
  ACCEPTED: ['CREATING', 'UNCERTAIN'],
  // WeChat's word that money moved wins over any guess of ours.
  SUCCESS: ['CREATING', 'UNCERTAIN', 'REJECTED', 'ACCEPTED', 'PAY_FAIL', 'CLOSED'],
  PAY_FAIL: ['CREATING', 'UNCERTAIN', 'ACCEPTED'],
  CLOSED: ['CREATING', 'UNCERTAIN', 'ACCEPTED', 'PAY_FAIL'],
};

export interface DeductionRecord extends ClaimedRecord {
  kind: 'DEDUCTION';
  out_trade_no: string;
  contract_id: string;
  mchid: string;
  appid: string;
  total_fee: number;
  body: string;
  attach?: string;
  state: DeductionState;
  transaction_id?: string;
  time_end?: string;
  bank_type?: string;
  err_code?: string;
  err_code_des?: string;
  refusal?: { err_code: string; err_code_des?: string };
  last_error?: string;
  last_checked_at?: number;
  expires_at?: number;
}

export interface DeductionView {
  out_trade_no: string;
  contract_id: string;
  state: DeductionState;
  total_fee: number;
  body: string;
  attach?: string;
  transaction_id?: string;
  time_end?: string;
  failure?: { err_code: string; err_code_des?: string };
  created_at: string;
  updated_at: string;
}

export function toDeductionView(r: DeductionRecord): DeductionView {
  const timeEnd = wechatTime(r.time_end);
  return {
    out_trade_no: r.out_trade_no,
    contract_id: r.contract_id,
    state: r.state,
    total_fee: r.total_fee,
    body: r.body,
    ...(r.attach ? { attach: r.attach } : {}),
    ...(r.transaction_id ? { transaction_id: r.transaction_id } : {}),
    ...(timeEnd ? { time_end: timeEnd } : {}),
    ...(r.err_code ? { failure: { err_code: r.err_code, ...(r.err_code_des ? { err_code_des: r.err_code_des } : {}) } } : {}),
    created_at: beijingTime(r.created_at),
    updated_at: beijingTime(r.updated_at),
  };
}
