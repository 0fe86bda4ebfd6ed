import * as v from 'valibot';
import { logger } from '../runtime/logger';
import type { Runtime } from '../runtime/container';
import { keys } from '../store/keys';
import { applyTransition, type TransitionResult } from '../store/transitions';
import { recordUnmatched } from '../store/unmatched';
import { FORWARD_FROM, H5_FINAL, type H5OrderRecord, type H5State } from './record';
import { settledDay } from '../reconciliation/day';

/**
 * A WeChat transaction as the payment notification and the query API describe it. Only what we bind to and
 * store is required; everything else WeChat may add is tolerated.
 */
export const transactionSchema = v.looseObject({
  appid: v.string(),
  mchid: v.string(),
  out_trade_no: v.string(),
  transaction_id: v.optional(v.string()),
  trade_type: v.optional(v.string()),
  trade_state: v.picklist(['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR']),
  trade_state_desc: v.optional(v.string()),
  bank_type: v.optional(v.string()),
  success_time: v.optional(v.string()),
  payer: v.optional(v.looseObject({ openid: v.optional(v.string()) })),
  amount: v.looseObject({
    total: v.optional(v.pipe(v.number(), v.safeInteger())),
    payer_total: v.optional(v.pipe(v.number(), v.safeInteger())),
    currency: v.optional(v.string()),
  }),
});

export type Transaction = v.InferOutput<typeof transactionSchema>;

export type ApplyResult = TransitionResult<H5OrderRecord>['kind'] | 'unchanged' | 'unmatched';

/**
 * Moves our order to the state WeChat reports, forward only, bound to our record by mchid, appid, amount and
 * currency. A binding field WeChat left out means "cannot match", never "matches": such an event, like one that
 * differs, is kept and flagged, never applied and never dropped.
 */
export async function applyTransaction(rt: Runtime, tx: Transaction, eventId: string): Promise<ApplyResult> {
  const to = tx.trade_state as H5State;
  if (to === 'NOTPAY') return 'unchanged';
  const unbound = unboundFields(tx);
  const outcome =
    unbound.length > 0
      ? ({ kind: 'unbound' } as const)
      : await applyTransition<H5OrderRecord>(rt.dynamo, rt.config.tableName, {
          key: keys.h5Order(tx.out_trade_no),
          to,
          from: FORWARD_FROM[to],
          eventId,
          now: rt.now(),
          returnRecord: false,
          pending: H5_FINAL.includes(to) ? null : undefined,
          expect: { mchid: tx.mchid, appid: tx.appid, amount_total: tx.amount.total, currency: tx.amount.currency },
          set: {
            transaction_id: tx.transaction_id,
            trade_type: tx.trade_type,
            trade_state_desc: tx.trade_state_desc,
            bank_type: tx.bank_type,
            success_time: tx.success_time,
            settled_day: to === 'SUCCESS' ? settledDay(tx.success_time, rt.now()) : undefined,
            payer_openid: tx.payer?.openid,
            payer_total: tx.amount.payer_total,
          },
        });
  if (outcome.kind === 'unknown' || outcome.kind === 'mismatch' || outcome.kind === 'unbound') {
    const reason =
      outcome.kind === 'unknown'
        ? 'no such order'
        : outcome.kind === 'unbound'
          ? `lacks or has an impossible ${unbound.join(', ')}`
          : `differs in ${outcome.fields.join(', ')}`;
    logger.warn('unmatched payment event', { product: 'h5', out_trade_no: tx.out_trade_no, event_id: eventId, reason });
    await recordUnmatched(rt, 'H5', tx.out_trade_no, eventId, {
      reason,
      trade_state: tx.trade_state,
      transaction_id: tx.transaction_id,
      mchid: tx.mchid,
      appid: tx.appid,
      amount_total: tx.amount.total,
      currency: tx.amount.currency,
      payer_total: tx.amount.payer_total,
    });
    return outcome.kind === 'unbound' ? 'unmatched' : outcome.kind;
  }
  return outcome.kind;
}

/**
 * The amount fields a transaction must carry to be bound to our order: the total and its currency always; for a
 * payment, what the payer paid too, which can be less than the total (coupons) but never more, nor negative.
 */
function unboundFields(tx: Transaction): string[] {
  const { total, currency, payer_total: payerTotal } = tx.amount;
  const fields: string[] = [];
  if (total === undefined) fields.push('amount.total');
  if (currency === undefined) fields.push('amount.currency');
  if (tx.trade_state === 'SUCCESS' && (payerTotal === undefined || payerTotal < 0 || (total !== undefined && payerTotal > total))) {
    fields.push('amount.payer_total');
  }
  return fields;
}
