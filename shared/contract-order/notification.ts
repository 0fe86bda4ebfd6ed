import * as v from 'valibot';
import { UnusableNotificationError, type V2NotificationApplier } from '../notify/v2';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { applyTransition, type TransitionOutcome } from '../store/transitions';
import { recordUnmatched } from '../store/unmatched';
import { PAYMENT_FORWARD_FROM, type ContractOrderRecord } from './record';
import { settledDay } from '../reconciliation/day';

export const PAYMENT_PRODUCT = 'CONTRACT_ORDER_PAYMENT';

const DIGITS = /^(0|[1-9][0-9]{0,15})$/;
const digits = (what: string) => v.pipe(v.string(), v.regex(DIGITS, `${what} must be a whole number`));
const present = () => v.pipe(v.string(), v.minLength(1));

/**
 * The v2 payment result at `notify_url` (docs/wechatpay.md, *Pay-and-sign*). Only what we bind to and store is
 * required; every other field WeChat sends (coupons, `settlement_total_fee`, …) is tolerated, and was covered by
 * the sign.
 */
export const paymentNotificationSchema = v.pipe(
  v.looseObject({
    appid: present(),
    mch_id: present(),
    out_trade_no: present(),
    result_code: v.picklist(['SUCCESS', 'FAIL']),
    total_fee: digits('total_fee'),
    transaction_id: v.optional(v.string()),
    cash_fee: v.optional(digits('cash_fee')),
    bank_type: v.optional(v.string()),
    time_end: v.optional(v.string()),
    is_subscribe: v.optional(v.string()),
    trade_type: v.optional(v.string()),
    err_code: v.optional(v.string()),
    err_code_des: v.optional(v.string()),
  }),
  v.forward(
    v.partialCheck(
      [['result_code'], ['transaction_id']],
      (n) => n.result_code !== 'SUCCESS' || (n.transaction_id ?? '') !== '',
      'transaction_id is required for a payment',
    ),
    ['transaction_id'],
  ),
);

/** Parses a v2 notification's fields; what is missing or malformed is named (an unusable notification is refused). */
export function parseNotification<S extends v.GenericSchema>(schema: S, fields: unknown, what: string): v.InferOutput<S> {
  const parsed = v.safeParse(schema, fields);
  if (parsed.success) return parsed.output;
  const names = [...new Set(parsed.issues.map((issue) => v.getDotPath(issue) ?? 'fields'))].join(', ');
  throw new UnusableNotificationError(`${what} is missing or has invalid ${names}`);
}

export type ApplyResult = TransitionOutcome<ContractOrderRecord>['kind'] | 'ignored';

/** A payment result as WeChat states it, from the payment notification or from `/pay/orderquery`. */
export interface PaymentResult {
  appid: string;
  mch_id: string;
  out_trade_no: string;
  /** SUCCESS → the order is paid; FAIL → PAYERROR. */
  result_code: 'SUCCESS' | 'FAIL';
  /** Digits, already checked. */
  total_fee: string;
  transaction_id?: string | undefined;
  cash_fee?: string | undefined;
  bank_type?: string | undefined;
  time_end?: string | undefined;
  is_subscribe?: string | undefined;
  err_code?: string | undefined;
  err_code_des?: string | undefined;
}

/**
 * Payment result → the order's payment state, once and forward only: bound to our record by mch_id, appid and
 * total_fee. The one transition both the payment notification and the GET's query use; `eventId` names the source
 * (the notification's `transaction_id`, or `query:<transaction_id>`). An authentic result we cannot match is kept
 * and flagged, never dropped.
 */
export async function applyPaymentResult(
  rt: Runtime,
  n: PaymentResult,
  eventId: string,
): Promise<TransitionOutcome<ContractOrderRecord>['kind']> {
  const paid = n.result_code === 'SUCCESS';
  const to = paid ? 'SUCCESS' : 'PAYERROR';
  const totalFee = Number(n.total_fee);
  const outcome = await applyTransition<ContractOrderRecord>(rt.dynamo, rt.config.tableName, {
    key: keys.contractOrder(n.out_trade_no),
    to,
    from: PAYMENT_FORWARD_FROM[to],
    eventId,
    now: rt.now(),
    expect: { kind: 'CONTRACT_ORDER', mchid: n.mch_id, appid: n.appid, total_fee: totalFee },
    set: paid
      ? {
          transaction_id: n.transaction_id,
          cash_fee: n.cash_fee === undefined ? undefined : Number(n.cash_fee),
          bank_type: n.bank_type || undefined,
          time_end: n.time_end || undefined,
          settled_day: settledDay(n.time_end, rt.now()),
          is_subscribe: n.is_subscribe || undefined,
        }
      : { payment_err_code: n.err_code || undefined, payment_err_code_des: n.err_code_des || undefined },
  });

  let reason: string | undefined;
  if (outcome.kind === 'unknown') reason = 'no such contract order';
  else if (outcome.kind === 'mismatch') reason = `differs in ${outcome.fields.join(', ')}`;
  else if (outcome.kind === 'superseded' && paid && outcome.record.transaction_id !== n.transaction_id) {
    // A second, different payment for an order that is already paid: the state stays, a person must look.
    reason = `order already paid by transaction ${outcome.record.transaction_id ?? '(none)'}`;
  }
  if (reason) {
    logger.warn('unmatched payment event', { product: PAYMENT_PRODUCT, out_trade_no: n.out_trade_no, event_id: eventId, reason });
    await recordUnmatched(rt, PAYMENT_PRODUCT, n.out_trade_no, eventId, {
      reason,
      result_code: n.result_code,
      transaction_id: n.transaction_id,
      mch_id: n.mch_id,
      appid: n.appid,
      total_fee: totalFee,
    });
  }
  return outcome.kind;
}

/**
 * The payment notification at `notify_url`: parsed, then {@link applyPaymentResult}. The event id is the
 * `transaction_id` (v2 notifications have none of their own). Unmatched events are acknowledged (a retry would not
 * change them).
 */
export function contractOrderPaymentApplier(rt: Runtime): V2NotificationApplier {
  return async (fields) => {
    const n = parseNotification(paymentNotificationSchema, fields, 'payment notification');
    const eventId = n.result_code === 'SUCCESS' ? (n.transaction_id as string) : `PAYERROR:${n.transaction_id || n.out_trade_no}`;
    return applyPaymentResult(rt, n, eventId);
  };
}
