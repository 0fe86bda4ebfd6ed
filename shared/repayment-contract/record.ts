import { ServiceError } from '../http/errors';
import type { FieldProblem } from '../http/responses';
import type { ClaimedRecord } from '../store/claims';
import type { Item } from '../store/items';
import { beijingTime, wechatTime } from '../http/time';

/**
 * A credit-repayment contract's life on our side. PRESIGNING while our first call is in flight, UNCERTAIN when
 * WeChat's answer was lost (only the identical request may ask again), REJECTED when WeChat (or, for a queued
 * request, our validation) refused it; then WeChat's own states. EXPIRED: the 10-minute presign token passed with
 * no signing (WeChat sends nothing when a person declines or walks away).
 */
export type ContractState = 'PRESIGNING' | 'UNCERTAIN' | 'REJECTED' | 'PRESIGNED' | 'EXPIRED' | 'SIGNED' | 'TERMINATED';

/**
 * States from which a state is a step forward. What WeChat reports wins over what we concluded ourselves: a
 * signing seen after we called the token expired (a late notification) still makes the contract SIGNED, and a
 * termination seen before the signing still leaves it TERMINATED.
 */
export const FORWARD_FROM: Record<'PRESIGNED' | 'EXPIRED' | 'SIGNED' | 'TERMINATED', readonly ContractState[]> = {
  PRESIGNED: ['PRESIGNING', 'UNCERTAIN'],
  EXPIRED: ['PRESIGNED'],
  SIGNED: ['PRESIGNING', 'UNCERTAIN', 'REJECTED', 'PRESIGNED', 'EXPIRED'],
  TERMINATED: ['PRESIGNING', 'UNCERTAIN', 'REJECTED', 'PRESIGNED', 'EXPIRED', 'SIGNED'],
};

/** "预签约码有效期为10分钟" (seed 000). */
export const PRESIGN_TOKEN_TTL_MS = 10 * 60 * 1000;

/** Why a presign was refused, as stored: codes, WeChat's message and field names. Never a value we were sent. */
export interface Refusal {
  /** The HTTP status our caller gets. */
  status: number;
  code: string;
  message: string;
  /** WeChat's own answer, when it was WeChat that refused. */
  wechatpay?: { status: number; code: string; message: string; field?: string; location?: string; issue?: string };
  /** Our validation problems (queued requests only). */
  errors?: FieldProblem[];
}

/**
 * One contract (`CONTRACT#<out_contract_code>`). Nothing personal is kept: no request body, no name, no ID number;
 * `display_name` is the mask WeChat shows, and the fingerprint is a keyed HMAC. Contract records never expire: the
 * record is what keeps a used code from being used again.
 */
export interface RepaymentContractRecord extends ClaimedRecord {
  kind: 'REPAYMENT_CONTRACT';
  out_contract_code: string;
  state: ContractState;
  source?: 'http' | 'queue';
  message_id?: string;
  mchid?: string;
  appid?: string;
  plan_id?: string;
  sub_mchid?: string;
  sub_appid?: string;
  display_name?: string;
  identity_type?: string;
  repayment_day?: number;
  repayment_amount_limit?: string;
  /** The first repayment requested with the presign (`trade_info`), if any; its result is on `REPAY#<out_trade_no>`. */
  trade_out_trade_no?: string;
  trade_deduct_amount?: string;
  redirect_url?: string;
  presigned_at?: number;
  redirect_url_expires_at?: number;
  last_error?: string;
  refusal?: Refusal;
  /** Refused before anything was created at WeChat: a corrected request may take the code (see `presign`). */
  reusable?: boolean;
  contract_id?: string;
  openid?: string;
  contract_signed_time?: string;
  contract_terminated_time?: string;
  contract_terminated_mode?: string;
  contract_termination_remark?: string;
  last_checked_at?: number;
}

/**
 * PENDING: reserved (the first repayment) or accepted by WeChat (deduct-orders). Our own call's states, for a repayment
 * we start: CREATING while the call is in flight, UNCERTAIN when its answer was lost, REJECTED when WeChat refused it.
 */
export type RepaymentState = 'CREATING' | 'UNCERTAIN' | 'REJECTED' | 'PENDING' | 'PAY_SUCCESS' | 'PAY_FAIL';

export const REPAYMENT_FORWARD_FROM: Record<'PENDING' | 'PAY_SUCCESS' | 'PAY_FAIL', readonly RepaymentState[]> = {
  PENDING: ['CREATING', 'UNCERTAIN'],
  // WeChat's word that money moved wins over any guess of ours.
  PAY_SUCCESS: ['CREATING', 'UNCERTAIN', 'REJECTED', 'PENDING', 'PAY_FAIL'],
  PAY_FAIL: ['CREATING', 'UNCERTAIN', 'PENDING'],
};

/** The first repayment of a presign (`REPAY#<out_trade_no>`): also the way from out_trade_no to the contract. */
export interface RepaymentRecord extends Item {
  pk: string;
  sk: string;
  kind: 'REPAYMENT';
  out_trade_no: string;
  out_contract_code: string;
  mchid: string;
  deduct_amount: string;
  state: RepaymentState;
  order_state?: string;
  transaction_id?: string;
  pay_success_amount?: string;
  success_time?: string;
  created_at: number;
  updated_at: number;
}

export interface RepaymentView {
  out_trade_no: string;
  out_record_id?: string;
  deduct_amount: string;
  state: RepaymentState;
  order_state?: string;
  transaction_id?: string;
  pay_success_amount?: string;
  success_time?: string;
}

/** What a caller sees; `state` may be EXPIRED before the record says so (computed from the token's life). */
export interface RepaymentContractView {
  out_contract_code: string;
  state: Exclude<ContractState, 'PRESIGNING' | 'UNCERTAIN'>;
  redirect_url?: string;
  redirect_url_expires_at?: string;
  plan_id?: string;
  appid?: string;
  sub_mchid?: string;
  sub_appid?: string;
  display_name?: string;
  repayment_day?: number;
  repayment_amount_limit?: string;
  contract_id?: string;
  openid?: string;
  contract_signed_time?: string;
  contract_terminated_time?: string;
  contract_terminated_mode?: string;
  contract_termination_remark?: string;
  first_repayment?: RepaymentView;
  /** Repayments started with POST .../repayments, oldest first. */
  repayments?: RepaymentView[];
  error?: { code: string; message: string; errors?: FieldProblem[]; wechatpay?: Refusal['wechatpay'] };
  created_at: string;
  updated_at: string;
}

/** The answer of `POST /repayment-contracts`. */
export interface PresignAnswer {
  out_contract_code: string;
  state: RepaymentContractView['state'];
  redirect_url?: string;
  redirect_url_expires_at?: string;
}

export function tokenValid(record: RepaymentContractRecord, now: number): boolean {
  return record.state === 'PRESIGNED' && record.redirect_url !== undefined && (record.redirect_url_expires_at ?? 0) > now;
}

/** PRESIGNED whose token ran out with no signing seen: EXPIRED, whether or not the record says so yet. */
export function visibleState(record: RepaymentContractRecord, now: number): RepaymentContractView['state'] | undefined {
  if (record.state === 'PRESIGNING' || record.state === 'UNCERTAIN') return undefined;
  if (record.state === 'PRESIGNED' && !tokenValid(record, now)) return 'EXPIRED';
  return record.state;
}

export function toAnswer(record: RepaymentContractRecord, now: number): PresignAnswer {
  const state = visibleState(record, now) ?? 'PRESIGNED';
  return {
    out_contract_code: record.out_contract_code,
    state,
    ...(tokenValid(record, now)
      ? { redirect_url: record.redirect_url, redirect_url_expires_at: iso(record.redirect_url_expires_at!) }
      : {}),
  };
}

export function toView(record: RepaymentContractRecord, repayment: RepaymentRecord | undefined, now: number): RepaymentContractView {
  const state = visibleState(record, now) ?? 'PRESIGNED';
  const optional = <K extends keyof RepaymentContractRecord>(...names: K[]) =>
    Object.fromEntries(names.filter((n) => record[n] !== undefined).map((n) => [n, record[n]]));
  return {
    out_contract_code: record.out_contract_code,
    state,
    ...(tokenValid(record, now)
      ? { redirect_url: record.redirect_url, redirect_url_expires_at: iso(record.redirect_url_expires_at!) }
      : {}),
    ...optional(
      'plan_id',
      'appid',
      'sub_mchid',
      'sub_appid',
      'display_name',
      'repayment_day',
      'repayment_amount_limit',
      'contract_id',
      'openid',
      'contract_terminated_mode',
      'contract_termination_remark',
    ),
    // WeChat's times, in our one format.
    ...optionalTime('contract_signed_time', record.contract_signed_time),
    ...optionalTime('contract_terminated_time', record.contract_terminated_time),
    ...(repayment ? { first_repayment: repaymentView(repayment) } : {}),
    ...(record.state === 'REJECTED' && record.refusal
      ? {
          error: {
            code: record.refusal.code,
            message: record.refusal.message,
            ...(record.refusal.errors ? { errors: record.refusal.errors } : {}),
            ...(record.refusal.wechatpay ? { wechatpay: record.refusal.wechatpay } : {}),
          },
        }
      : {}),
    created_at: iso(record.created_at),
    updated_at: iso(record.updated_at),
  };
}

export function repaymentView(r: RepaymentRecord): RepaymentView {
  return {
    out_trade_no: r.out_trade_no,
    ...(typeof r['out_record_id'] === 'string' ? { out_record_id: r['out_record_id'] } : {}),
    deduct_amount: r.deduct_amount,
    state: r.state,
    ...(r.order_state !== undefined ? { order_state: r.order_state } : {}),
    ...(r.transaction_id !== undefined ? { transaction_id: r.transaction_id } : {}),
    ...(r.pay_success_amount !== undefined ? { pay_success_amount: r.pay_success_amount } : {}),
    ...optionalTime('success_time', r.success_time),
  };
}

/** The error a refused presign answers with, the first time and every time the same request comes again. */
export function refusalError(refusal: Refusal | undefined): ServiceError {
  const r = refusal ?? { status: 422, code: 'WECHATPAY_REJECTED', message: 'WeChat Pay rejected the presign' };
  return new ServiceError(r.status, r.code, r.message, {
    ...(r.errors ? { errors: r.errors } : {}),
    ...(r.wechatpay ? { wechatpay: r.wechatpay } : {}),
  });
}

/** Our times, RFC 3339 in Beijing time (shared/http/time.ts). */
const iso = beijingTime;

function optionalTime<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  const time = wechatTime(value);
  return (time === undefined ? {} : { [name]: time }) as { [P in K]?: string };
}
