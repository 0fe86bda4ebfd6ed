import type { ClaimedRecord } from '../store/claims';
import type { PayParams } from './pay-params';
import type { TradeType } from './schema';
import { beijingTime, wechatTime } from '../http/time';

/*
 * A pay-and-sign order lives in two records:
 *
 * - the ORDER (`keys.contractOrder(out_trade_no)`): the claim for the contractorder call, its answer, and the
 *   payment state driven by the payment notification;
 * - the CONTRACT CODE (`keys.contractCode(contract_code)`): the claim that makes a contract code single-use, and
 *   the contract state driven by the signing / termination notification (which names only the contract_code).
 *
 * Both carry the same request fingerprint, so the same request finds both as its own and a different one finds
 * both taken. Neither keeps the request body: only what the answer, the GET and the notification checks need.
 */

/**
 * Payment states of the order. `CREATING` while the first call is in flight; `UNCERTAIN` when WeChat's answer was
 * lost (timeout, 5xx, SYSTEMERROR, unverifiable): only the identical request may try again; `REJECTED` when WeChat
 * refused the order after something was consumed (kept so the same request gets the same refusal).
 * Then WeChat's own: NOTPAY → SUCCESS, or PAYERROR.
 */
export type PaymentState = 'CREATING' | 'UNCERTAIN' | 'REJECTED' | 'NOTPAY' | 'PAYERROR' | 'SUCCESS' | 'CLOSED';

export const PAYMENT_FORWARD_FROM: Record<'SUCCESS' | 'PAYERROR' | 'CLOSED', readonly PaymentState[]> = {
  // WeChat's word that money moved wins over our own guess (REJECTED after an unknown first attempt), and over a
  // close we believed in (WeChat refuses to close a paid order, so a payment seen later was made before it).
  SUCCESS: ['CREATING', 'UNCERTAIN', 'REJECTED', 'NOTPAY', 'PAYERROR', 'CLOSED'],
  PAYERROR: ['CREATING', 'UNCERTAIN', 'NOTPAY'],
  CLOSED: ['NOTPAY', 'PAYERROR'],
};

/**
 * Contract states of the code. `RESERVED` while the call that sends it is in flight; `UNCERTAIN` when that call's
 * outcome is unknown; `REJECTED` when WeChat refused it and it may have been consumed (never reusable).
 * Then WeChat's: PENDING (pre-signed, waiting for the payer) → SIGNED (`ADD`) → TERMINATED (`DELETE`).
 */
export type ContractState = 'RESERVED' | 'UNCERTAIN' | 'REJECTED' | 'PENDING' | 'SIGNED' | 'TERMINATED';

export const CONTRACT_FORWARD_FROM: Record<'SIGNED' | 'TERMINATED', readonly ContractState[]> = {
  SIGNED: ['RESERVED', 'UNCERTAIN', 'REJECTED', 'PENDING'],
  // A DELETE that overtakes its ADD still ends the contract: the late ADD cannot bring it back.
  TERMINATED: ['RESERVED', 'UNCERTAIN', 'REJECTED', 'PENDING', 'SIGNED'],
};

/** The pending index partition of pay-and-sign orders (shared/store/pending.ts). */
export const CONTRACT_ORDER_PENDING_PRODUCT = 'CONTRACT_ORDER';

/** `prepay_id` is valid 2 hours, `mweb_url` 5 minutes (seed 002). */
export const PREPAY_TTL_MS = 2 * 60 * 60 * 1000;
export const MWEB_URL_TTL_MS = 5 * 60 * 1000;
/** A stored answer is replayed only while it stays usable for at least this long. */
export const REPLAY_MARGIN_MS = 5_000;

/** WeChat's business-level answer when it refused the call, passed through verbatim. */
export interface WechatRefusal {
  result_code?: string;
  err_code?: string;
  err_code_des?: string;
  contract_result_code?: string;
  contract_err_code?: string;
  contract_err_code_des?: string;
}

export interface ContractOrderRecord extends ClaimedRecord {
  kind: 'CONTRACT_ORDER';
  out_trade_no: string;
  mchid: string;
  appid: string;
  total_fee: number;
  trade_type: TradeType;
  contract_code: string;
  plan_id: string;
  state: PaymentState;
  prepay_id?: string;
  prepay_expires_at?: number;
  code_url?: string;
  mweb_url?: string;
  mweb_url_expires_at?: number;
  pay_params?: PayParams;
  /** Set when WeChat refused the order (state REJECTED). */
  refusal?: WechatRefusal;
  /** Set when WeChat made the order but refused its contract (paid, not signed: papay checklist #21). */
  contract_refusal?: WechatRefusal;
  /** From the payment notification. */
  transaction_id?: string;
  cash_fee?: number;
  bank_type?: string;
  time_end?: string;
  is_subscribe?: string;
  payment_err_code?: string;
  payment_err_code_des?: string;
  /** When the GET last confirmed an unpaid order with `/pay/orderquery`. */
  last_checked_at?: number;
  expires_at?: number;
}

export interface ContractCodeRecord extends ClaimedRecord {
  kind: 'CONTRACT_CODE';
  contract_code: string;
  out_trade_no: string;
  mchid: string;
  plan_id: string;
  state: ContractState;
  refusal?: WechatRefusal;
  /** From the contract notifications. */
  contract_id?: string;
  signed_at?: string;
  terminated_at?: string;
  contract_expired_time?: string;
  contract_termination_mode?: string;
  /** The payer's openid as WeChat's contract notification (or query) says it. */
  openid?: string;
}

export interface ContractOrderAnswer {
  out_trade_no: string;
  contract_code: string;
  trade_type: TradeType;
  prepay_id: string;
  prepay_id_expires_at: string;
  code_url?: string;
  mweb_url?: string;
  mweb_url_expires_at?: string;
  pay_params?: PayParams;
  /** WeChat made the order but refused the contract: the payer can pay, nothing will be signed (or charged later). */
  contract_refused?: WechatRefusal;
}

/** The `201` body: what the caller needs to open WeChat's cashier. */
export function toAnswer(record: ContractOrderRecord): ContractOrderAnswer {
  return {
    out_trade_no: record.out_trade_no,
    contract_code: record.contract_code,
    trade_type: record.trade_type,
    prepay_id: record.prepay_id ?? '',
    prepay_id_expires_at: beijingTime(record.prepay_expires_at ?? 0),
    ...(record.code_url ? { code_url: record.code_url } : {}),
    ...(record.mweb_url
      ? { mweb_url: record.mweb_url, mweb_url_expires_at: beijingTime(record.mweb_url_expires_at ?? 0) }
      : {}),
    ...(record.pay_params ? { pay_params: record.pay_params } : {}),
    ...(record.contract_refusal ? { contract_refused: record.contract_refusal } : {}),
  };
}

/** Whether the stored answer still opens the cashier: prepay_id for 2 h, and for MWEB the 5-minute link. */
export function answerIsUsable(record: ContractOrderRecord, now: number): boolean {
  if (!record.prepay_id) return false;
  const until = Math.min(
    record.prepay_expires_at ?? 0,
    record.trade_type === 'MWEB' ? (record.mweb_url_expires_at ?? 0) : Number.POSITIVE_INFINITY,
  );
  return until > now + REPLAY_MARGIN_MS;
}

export interface ContractOrderView {
  out_trade_no: string;
  trade_type: TradeType;
  total_fee: number;
  payment: {
    state: PaymentState;
    transaction_id?: string;
    total_fee: number;
    cash_fee?: number;
    bank_type?: string;
    /** RFC 3339, Beijing time. */
    time_end?: string;
    /** WeChat's own `time_end` (yyyyMMddHHmmss, Beijing time), as on its bills. */
    time_end_raw?: string;
    err_code?: string;
    err_code_des?: string;
  };
  contract: {
    contract_code: string;
    plan_id: number;
    state: ContractState;
    contract_id?: string;
    signed_at?: string;
    terminated_at?: string;
    contract_expired_time?: string;
    contract_termination_mode?: string;
  };
  refusal?: WechatRefusal;
  created_at: string;
  updated_at: string;
}

export function toView(order: ContractOrderRecord, code: ContractCodeRecord | undefined): ContractOrderView {
  const refusal = order.refusal ?? (code?.refusal && code.out_trade_no === order.out_trade_no ? code.refusal : undefined);
  // The code record belongs to this order only if it names it (a code refused elsewhere says nothing about us).
  const own = code && code.out_trade_no === order.out_trade_no ? code : undefined;
  return {
    out_trade_no: order.out_trade_no,
    trade_type: order.trade_type,
    total_fee: order.total_fee,
    payment: {
      state: order.state,
      total_fee: order.total_fee,
      ...(order.transaction_id ? { transaction_id: order.transaction_id } : {}),
      ...(order.cash_fee !== undefined ? { cash_fee: order.cash_fee } : {}),
      ...(order.bank_type ? { bank_type: order.bank_type } : {}),
      // WeChat's yyyyMMddHHmmss kept alongside: it is what WeChat's bills and queries show.
      ...(order.time_end ? { ...optionalTime('time_end', order.time_end), time_end_raw: order.time_end } : {}),
      ...(order.payment_err_code ? { err_code: order.payment_err_code } : {}),
      ...(order.payment_err_code_des ? { err_code_des: order.payment_err_code_des } : {}),
    },
    contract: {
      contract_code: order.contract_code,
      // An integer, as in the request (stored as WeChat's text).
      plan_id: Number(order.plan_id),
      state: own?.state ?? contractStateFor(order.state),
      ...(own?.contract_id ? { contract_id: own.contract_id } : {}),
      ...optionalTime('signed_at', own?.signed_at),
      ...optionalTime('terminated_at', own?.terminated_at),
      ...optionalTime('contract_expired_time', own?.contract_expired_time),
      ...(own?.contract_termination_mode !== undefined ? { contract_termination_mode: own.contract_termination_mode } : {}),
    },
    ...(refusal ? { refusal } : {}),
    created_at: beijingTime(order.created_at),
    updated_at: beijingTime(Math.max(order.updated_at, own?.updated_at ?? 0)),
  };
}

/** When the code record is missing (it never should be once an order exists), say what the order implies. */
function contractStateFor(state: PaymentState): ContractState {
  if (state === 'UNCERTAIN') return 'UNCERTAIN';
  if (state === 'REJECTED') return 'REJECTED';
  return 'PENDING';
}

function optionalTime<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  const time = wechatTime(value);
  return (time === undefined ? {} : { [name]: time }) as { [P in K]?: string };
}
