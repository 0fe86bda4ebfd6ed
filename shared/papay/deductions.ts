import * as v from 'valibot';
import { v2ClientFor } from '../contract-order/client';
import { ConfigError } from '../config/env';
import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import { RequestValidationError, validate } from '../http/validation';
import type { MerchantContext } from '../merchant/context';
import { isTransient } from '../merchant/failures';
import { UnusableNotificationError, type V2NotificationApplier } from '../notify/v2';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs, type WechatCallPurpose } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import type { ClaimGuard } from '../store/claims';
import { claimedCall, type CallResult } from '../store/claimed-call';
import { keys } from '../store/keys';
import { applyTransition } from '../store/transitions';
import { pendingAttributes } from '../store/pending';
import { recordUnmatched } from '../store/unmatched';
import { MalformedResponseError, WechatPayV2ReturnError } from '../wechatpay';
import { orderRefundsView, type OrderRefundsView } from '../refund/record';
import { refundsOf } from '../refund/orders';
import { DEDUCTION_FORWARD_FROM, toDeductionView, type DeductionRecord, type DeductionState, type DeductionView } from './record';
import { createDeductionSchema, type CreateDeductionInput } from './schema';
import { settledDay } from '../reconciliation/day';

export const PAPPAYAPPLY_PATH = '/pay/pappayapply';
export const PAPORDERQUERY_PATH = '/pay/paporderquery';
export const DEDUCTION_NOTIFY_PATH = '/notify/deduction';
export const PRODUCT = 'DEDUCTION';
const LEASE_MS = 30_000;
const RETENTION_SECONDS = 400 * 24 * 3600;
/** The states our own call decides from; WeChat's word (a notification, a query) is never undone. */
const CALL_FROM: readonly DeductionState[] = ['CREATING', 'UNCERTAIN'];
/** WeChat takes deductions (and pre-deduction notices) 07:00–22:00 Beijing time only (papay checklist #9). */
export const DEDUCTION_WINDOW = { fromHour: 7, toHour: 22 } as const;

export function inDeductionWindow(nowMs: number): boolean {
  const hour = new Date(nowMs + 8 * 3600 * 1000).getUTCHours();
  return hour >= DEDUCTION_WINDOW.fromHour && hour < DEDUCTION_WINDOW.toHour;
}

const busy = () => new ServiceError(409, 'REQUEST_IN_PROGRESS', 'the same deduction is being requested; retry shortly', { retryAfterSeconds: 1 });

function client(merchant: MerchantContext) {
  const c = v2ClientFor(merchant);
  if (!c) throw new ConfigError('the direct merchant secret has no apiV2Key (needed for papay)');
  return c;
}

/**
 * `POST /deductions` (`/pay/pappayapply`). Refused before WeChat is called: a contract that is not SIGNED, a time
 * outside 07:00–22:00 Beijing time (#9), an out_trade_no already used by any order of this merchant (#10).
 * WeChat charges one out_trade_no once, so a lost answer (UNCERTAIN) is only ever followed by the identical
 * request with the same number; a new number is the caller's choice once this one is known to have failed (#10, #16).
 */
export async function createDeduction(rt: Runtime, body: unknown): Promise<{ deduction: DeductionView; replayed: boolean }> {
  const input = validate(createDeductionSchema, body);
  const merchant = await rt.merchants.get('direct');
  const params = {
    body: input.body,
    ...(input.attach ? { attach: input.attach } : {}),
    out_trade_no: input.out_trade_no,
    total_fee: input.total_fee,
    spbill_create_ip: input.spbill_create_ip ?? '127.0.0.1',
    notify_url: `${rt.config.publicBaseUrl}${DEDUCTION_NOTIFY_PATH}`,
    trade_type: 'PAP',
    contract_id: input.contract_id,
  };
  const fingerprint = merchant.fingerprint(`deduction/v1\n${JSON.stringify(params)}`);
  const { record, replayed } = await claimedCall<DeductionRecord>({
    claims: rt.claims,
    key: keys.deduction(input.out_trade_no),
    fingerprint,
    leaseMs: LEASE_MS,
    // Checked in the claim's own transaction: the warm path is that write plus the one recording WeChat's answer.
    guards: [signedContract(input.contract_id), ...unusedOrderNumber(input.out_trade_no)],
    initial: {
      kind: 'DEDUCTION',
      out_trade_no: input.out_trade_no,
      contract_id: input.contract_id,
      mchid: merchant.mchid,
      appid: merchant.appid,
      total_fee: input.total_fee,
      body: input.body,
      attach: input.attach,
      state: 'CREATING',
      expires_at: Math.floor(rt.now() / 1000) + RETENTION_SECONDS,
      // Pending (CREATING, UNCERTAIN, ACCEPTED) until a notification, a query or a refusal makes it final.
      ...pendingAttributes(PRODUCT, rt.now() + rt.config.h5QueryAfterSeconds * 1000),
    },
    // Only a lost answer is asked again, with the identical request: WeChat charges one out_trade_no once.
    onRepeat: (existing) => (existing.state === 'UNCERTAIN' ? 'renew' : 'replay'),
    onConflict: () => conflict('OUT_TRADE_NO_USED', `out_trade_no ${input.out_trade_no} was already used for a different deduction`),
    onBusy: busy,
    call: async () => {
      // Checked at the moment of the call (a retry may come later in the day), before anything goes out.
      if (!inDeductionWindow(rt.now())) {
        throw new ServiceError(422, 'OUTSIDE_DEDUCTION_WINDOW', 'WeChat takes deductions 07:00–22:00 Beijing time only; send it again inside the window');
      }
      return callWechat(merchant, input, params);
    },
  });
  return { deduction: settle(record), replayed };
}

/** Only a contract WeChat told us is signed is charged (the index carries the contract's state). */
function signedContract(contractId: string): ClaimGuard {
  return {
    key: keys.papayContractId(contractId),
    condition: '#state = :signed',
    names: { '#state': 'state' },
    values: { ':signed': 'SIGNED' },
    refusal: (index) =>
      index
        ? conflict('CONTRACT_NOT_SIGNED', `papay contract ${contractId} is ${String(index['state'] ?? 'not signed yet')}; only a signed contract can be charged`)
        : notFound(`papay contract ${contractId}`),
  };
}

/** One out_trade_no space per merchant at WeChat: a number an H5 or pay-and-sign order holds is refused. */
function unusedOrderNumber(outTradeNo: string): ClaimGuard[] {
  return [keys.h5Order(outTradeNo), keys.contractOrder(outTradeNo)].map((key) => ({
    key,
    condition: 'attribute_not_exists(pk)',
    refusal: () => conflict('OUT_TRADE_NO_USED', `out_trade_no ${outTradeNo} belongs to another order of this merchant`),
  }));
}

async function callWechat(merchant: MerchantContext, input: CreateDeductionInput, params: Record<string, string | number>): Promise<CallResult> {
  let data: Record<string, string>;
  try {
    data = (await client(merchant).post(PAPPAYAPPLY_PATH, params, { budgetMs: wechatBudgetMs('call') })).data;
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) {
      logger.warn('deduction answer lost', { out_trade_no: input.out_trade_no, error: error instanceof Error ? error.name : 'unknown' });
      return { advance: { to: 'UNCERTAIN', from: CALL_FROM }, fields: { last_error: error instanceof Error ? error.name : 'unknown' } };
    }
    if (error instanceof WechatPayV2ReturnError) {
      throw new ServiceError(502, 'WECHATPAY_RETURN_FAIL', `WeChat Pay did not accept the call: ${error.returnMsg || error.returnCode}`);
    }
    throw error;
  }
  const errCode = data['result_code'] === 'SUCCESS' ? undefined : (data['err_code'] ?? 'FAIL');
  logger.info('deduction answered', { out_trade_no: input.out_trade_no, err_code: errCode ?? 'none' });
  // Accepted is not charged: the notification or the query tells which (#16).
  if (errCode === undefined || errCode === 'ORDER_ACCEPTED' || errCode === 'ORDERPAID') {
    return { advance: { to: 'ACCEPTED', from: CALL_FROM }, fields: {} };
  }
  // SYSTEMERROR / FREQUENCY_LIMITED: the same number may be sent again (it is charged at most once).
  if (errCode === 'SYSTEMERROR' || errCode === 'FREQUENCY_LIMITED') {
    return { advance: { to: 'UNCERTAIN', from: CALL_FROM }, fields: { last_error: errCode } };
  }
  return { advance: { to: 'REJECTED', from: CALL_FROM, pending: null }, fields: { refusal: { err_code: errCode, err_code_des: data['err_code_des'] } } };
}

function settle(record: DeductionRecord): DeductionView {
  if (record.state === 'UNCERTAIN') throw unavailable('WeChat Pay did not give a usable answer; send the same request again (the same out_trade_no is charged at most once)');
  if (record.state === 'CREATING') throw busy();
  if (record.state === 'REJECTED') {
    const r = record.refusal ?? { err_code: 'WECHATPAY_REJECTED' };
    throw new ServiceError(422, r.err_code, r.err_code_des || r.err_code, { wechatpay: { result_code: 'FAIL', ...r } });
  }
  return toDeductionView(record);
}

export interface DeductionResult {
  out_trade_no: string;
  mch_id: string;
  appid: string;
  contract_id: string;
  total_fee: string;
  trade_state?: string | undefined;
  result_code?: string | undefined;
  transaction_id?: string | undefined;
  time_end?: string | undefined;
  bank_type?: string | undefined;
  err_code?: string | undefined;
  err_code_des?: string | undefined;
}

/**
 * Books what WeChat says about a deduction (notification or query), forward only, bound to our record by merchant,
 * app, contract and amount (#14). Paid only on `result_code SUCCESS` with a transaction and our amount.
 */
export async function applyDeductionResult(rt: Runtime, r: DeductionResult, eventId: string): Promise<string> {
  const paid = r.result_code !== 'FAIL' && (r.trade_state === undefined || r.trade_state === 'SUCCESS' || r.trade_state === 'REFUND') && !!r.transaction_id;
  const to: DeductionState | undefined = paid
    ? 'SUCCESS'
    : r.trade_state === 'CLOSED'
      ? 'CLOSED'
      : r.trade_state === 'ACCEPT' || r.trade_state === 'NOTPAY' || r.trade_state === 'USERPAYING'
        ? undefined
        : 'PAY_FAIL';
  if (to === undefined) return 'unchanged';
  const totalFee = /^\d+$/.test(r.total_fee) ? Number(r.total_fee) : Number.NaN;
  const outcome = await applyTransition<DeductionRecord>(rt.dynamo, rt.config.tableName, {
    key: keys.deduction(r.out_trade_no),
    to,
    from: DEDUCTION_FORWARD_FROM[to],
    eventId,
    now: rt.now(),
    // SUCCESS, CLOSED and PAY_FAIL are all final: out of the pending index in the same write.
    pending: null,
    expect: { kind: 'DEDUCTION', mchid: r.mch_id, appid: r.appid, contract_id: r.contract_id, total_fee: totalFee },
    set: paid
      ? { transaction_id: r.transaction_id, time_end: r.time_end || undefined, bank_type: r.bank_type || undefined, settled_day: settledDay(r.time_end, rt.now()) }
      : { err_code: r.err_code || undefined, err_code_des: r.err_code_des || undefined },
  });
  if (outcome.kind === 'unknown' || outcome.kind === 'mismatch') {
    const reason = outcome.kind === 'unknown' ? 'no such deduction' : `differs in ${outcome.fields.join(', ')}`;
    logger.warn('unmatched deduction event', { product: PRODUCT, out_trade_no: r.out_trade_no, event_id: eventId, reason });
    await recordUnmatched(rt, PRODUCT, r.out_trade_no, eventId, { reason, contract_id: r.contract_id, total_fee: r.total_fee, mchid: r.mch_id, transaction_id: r.transaction_id });
    return outcome.kind;
  }
  return outcome.kind;
}

const present = () => v.pipe(v.string(), v.minLength(1));
const deductionNotificationSchema = v.looseObject({
  out_trade_no: present(),
  mch_id: present(),
  appid: present(),
  contract_id: present(),
  total_fee: v.pipe(v.string(), v.regex(/^\d+$/)),
  result_code: v.optional(v.string()),
  trade_state: v.optional(v.string()),
  transaction_id: v.optional(v.string()),
  time_end: v.optional(v.string()),
  bank_type: v.optional(v.string()),
  err_code: v.optional(v.string()),
  err_code_des: v.optional(v.string()),
});

/**
 * The deduction result at `/notify/deduction` (APIv2, signed). `err_code=SYSTEMERROR` is no answer: the order is
 * queried and what the query says is booked (#15).
 */
export function deductionApplier(rt: Runtime): V2NotificationApplier {
  return async (fields, merchant) => {
    const parsed = v.safeParse(deductionNotificationSchema, fields);
    if (!parsed.success) throw new UnusableNotificationError('not a deduction result (out_trade_no, mch_id, appid, contract_id, total_fee)');
    const n = parsed.output;
    if (n.err_code === 'SYSTEMERROR') {
      const queried = await queryDeduction(merchant, n.out_trade_no, 'notify');
      return queried ? applyDeductionResult(rt, queried, `query:${n.out_trade_no}:${queried.trade_state}`) : 'unchanged';
    }
    const eventId = n.transaction_id ? n.transaction_id : `FAIL:${n.out_trade_no}:${n.err_code ?? n.trade_state ?? 'unknown'}`;
    return applyDeductionResult(rt, n, eventId);
  };
}

/** `/pay/paporderquery`; undefined when it gives no usable answer in the purpose's budget. */
export async function queryDeduction(merchant: MerchantContext, outTradeNo: string, purpose: WechatCallPurpose): Promise<DeductionResult | undefined> {
  try {
    const data = (await client(merchant).post(PAPORDERQUERY_PATH, { appid: merchant.appid, out_trade_no: outTradeNo }, { budgetMs: wechatBudgetMs(purpose) })).data;
    if (data['result_code'] !== 'SUCCESS' || data['out_trade_no'] !== outTradeNo || !data['contract_id'] || !data['total_fee']) return undefined;
    return {
      out_trade_no: outTradeNo,
      mch_id: data['mch_id'] ?? '',
      appid: data['appid'] ?? '',
      contract_id: data['contract_id'],
      total_fee: data['total_fee'],
      trade_state: data['trade_state'],
      result_code: 'SUCCESS',
      transaction_id: data['transaction_id'] || undefined,
      time_end: data['time_end'] || undefined,
      bank_type: data['bank_type'] || undefined,
      ...(data['trade_state'] === 'PAY_FAIL' || data['trade_state'] === 'PAYERROR' ? { err_code: data['trade_state'], err_code_des: data['trade_state_desc'] } : {}),
    };
  } catch (error) {
    logger.warn('deduction query failed', { out_trade_no: outTradeNo, error: error instanceof Error ? error.name : 'unknown' });
    return undefined;
  }
}

/**
 * `/pay/paporderquery` applied like the notification; the record as stored afterwards, or undefined when WeChat
 * gave no usable answer. Used by the GET and by the recovery sweeper.
 */
export async function confirmDeduction(rt: Runtime, outTradeNo: string): Promise<DeductionRecord | undefined> {
  const key = keys.deduction(outTradeNo);
  const merchant = await rt.merchants.get('direct');
  const queried = await queryDeduction(merchant, outTradeNo, 'confirm');
  if (!queried) return undefined;
  await applyDeductionResult(rt, queried, `query:${outTradeNo}:${queried.trade_state}`);
  await rt.claims.touch(key, { last_checked_at: rt.now() });
  return rt.claims.get<DeductionRecord>(key);
}

/**
 * `GET /deductions/{out_trade_no}`: the stored state; one still ACCEPTED (or UNCERTAIN) after the configured age is
 * first confirmed with `/pay/paporderquery` (#16, #17), bounded like every GET. A CLOSED one is never charged again.
 */
export async function getDeduction(rt: Runtime, outTradeNo: string | undefined): Promise<DeductionView & Partial<OrderRefundsView>> {
  if (!outTradeNo || !/^[0-9A-Za-z_\-|*]{6,32}$/.test(outTradeNo)) {
    throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 6-32 characters of 0-9 A-Z a-z _ - | *' }]);
  }
  const key = keys.deduction(outTradeNo);
  let record = await rt.claims.get<DeductionRecord>(key);
  if (!record || record.state === 'CREATING') throw notFound(`deduction ${outTradeNo}`);
  const minAgeMs = rt.config.h5QueryAfterSeconds * 1000;
  const pending = record.state === 'ACCEPTED' || record.state === 'UNCERTAIN';
  if (pending && rt.now() - record.created_at >= minAgeMs && rt.now() - (record.last_checked_at ?? 0) >= minAgeMs) {
    record = (await confirmDeduction(rt, outTradeNo)) ?? record;
  }
  const view = toDeductionView(record);
  // A charged deduction shows what was refunded of it (POST /refunds, APIv2).
  return record.state === 'SUCCESS' ? { ...view, ...orderRefundsView(await refundsOf(rt, record)) } : view;
}
