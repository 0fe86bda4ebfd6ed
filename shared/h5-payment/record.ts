import type { ClaimedRecord } from '../store/claims';
import { beijingTime, wechatTime } from '../http/time';

/** WeChat's trade states, plus CREATING while our first call is in flight. */
export type H5State = 'CREATING' | 'NOTPAY' | 'USERPAYING' | 'PAYERROR' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVOKED';

/** States from which a trade state is a step forward (never backward). */
export const FORWARD_FROM: Record<H5State, readonly H5State[]> = {
  CREATING: [],
  NOTPAY: ['CREATING'],
  USERPAYING: ['CREATING', 'NOTPAY'],
  PAYERROR: ['CREATING', 'NOTPAY', 'USERPAYING'],
  SUCCESS: ['CREATING', 'NOTPAY', 'USERPAYING', 'PAYERROR'],
  REFUND: ['SUCCESS'],
  CLOSED: ['CREATING', 'NOTPAY', 'USERPAYING', 'PAYERROR'],
  REVOKED: ['CREATING', 'NOTPAY', 'USERPAYING'],
};

/** States nothing more comes from: out of the recovery sweeper's pending index (shared/store/pending.ts). */
export const H5_FINAL: readonly H5State[] = ['SUCCESS', 'REFUND', 'CLOSED', 'REVOKED'];
export const H5_PENDING_PRODUCT = 'H5';

export const H5_URL_TTL_MS = 5 * 60 * 1000;

/** One H5 order. No request body is kept: only what reconciliation needs, and nothing personal. */
export interface H5OrderRecord extends ClaimedRecord {
  kind: 'H5_ORDER';
  out_trade_no: string;
  mchid: string;
  appid: string;
  amount_total: number;
  currency: string;
  state: H5State;
  time_expire?: string;
  h5_url?: string;
  h5_url_expires_at?: number;
  transaction_id?: string;
  trade_type?: string;
  trade_state_desc?: string;
  bank_type?: string;
  success_time?: string;
  payer_openid?: string;
  payer_total?: number;
  last_checked_at?: number;
  expires_at?: number;
}

export interface H5OrderView {
  out_trade_no: string;
  state: H5State;
  amount: { total: number; currency: string; payer_total?: number };
  h5_url?: string;
  h5_url_expires_at?: string;
  transaction_id?: string;
  trade_type?: string;
  trade_state_desc?: string;
  bank_type?: string;
  payer?: { openid: string };
  success_time?: string;
  created_at: string;
  updated_at: string;
}

/** Times are RFC 3339 in Beijing time (shared/http/time.ts), WeChat's `success_time` included. */
export function toView(record: H5OrderRecord, now: number): H5OrderView {
  const linkValid = record.h5_url && (record.h5_url_expires_at ?? 0) > now && isPayable(record.state);
  return {
    out_trade_no: record.out_trade_no,
    state: record.state,
    amount: {
      total: record.amount_total,
      currency: record.currency,
      ...(record.payer_total !== undefined ? { payer_total: record.payer_total } : {}),
    },
    ...(linkValid
      ? { h5_url: record.h5_url, h5_url_expires_at: beijingTime(record.h5_url_expires_at!) }
      : {}),
    ...(record.transaction_id ? { transaction_id: record.transaction_id } : {}),
    ...(record.trade_type ? { trade_type: record.trade_type } : {}),
    ...(record.trade_state_desc ? { trade_state_desc: record.trade_state_desc } : {}),
    ...(record.bank_type ? { bank_type: record.bank_type } : {}),
    ...(record.payer_openid ? { payer: { openid: record.payer_openid } } : {}),
    ...optionalTime('success_time', record.success_time),
    created_at: beijingTime(record.created_at),
    updated_at: beijingTime(record.updated_at),
  };
}

export function isPayable(state: H5State): boolean {
  return state === 'CREATING' || state === 'NOTPAY' || state === 'USERPAYING' || state === 'PAYERROR';
}

function optionalTime<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  const time = wechatTime(value);
  return (time === undefined ? {} : { [name]: time }) as { [P in K]?: string };
}
