import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { countRefundOutcome } from '../runtime/metrics';
import { keys } from '../store/keys';
import { recordUnmatched } from '../store/unmatched';
import { changeRefund } from './ledger';
import { REFUND_FORWARD_FROM, type RefundRecord } from './record';
import type { RefundFacts } from './wechat';
import { settledDay } from '../reconciliation/day';

export const REFUND_PRODUCT = 'REFUND';

/**
 * Moves refund `outRefundNo` to what WeChat says (a notification of either protocol, or a query), forward only,
 * once per event id, and only when the facts name our order and our amount: a refund notification's fields are
 * checked against our record before anything is applied (WeChat's own advice). A CLOSED refund gives its
 * reserved amount back to the order in the same transaction.
 */
export async function applyRefundFacts(rt: Runtime, outRefundNo: string, facts: RefundFacts, eventId: string): Promise<string> {
  // Only a CLOSED refund needs its record first (the amount and the order to give it back to); every other state is
  // one conditional write, bound to our record by its own condition.
  const record = facts.status === 'CLOSED' ? await rt.claims.get<RefundRecord>(keys.refund(outRefundNo)) : undefined;
  if (facts.status === 'CLOSED' && !record) return flag(rt, outRefundNo, facts, eventId, 'no such refund');
  const missing = [
    ...(facts.out_trade_no === undefined ? ['out_trade_no'] : []),
    ...(facts.amount_refund === undefined ? ['amount.refund'] : []),
  ];
  if (missing.length > 0) return flag(rt, outRefundNo, facts, eventId, `lacks ${missing.join(', ')}: cannot be bound to our refund`);

  const to = facts.status;
  const outcome = await changeRefund(
    rt,
    outRefundNo,
    {
      to,
      from: REFUND_FORWARD_FROM[to],
      eventId,
      expect: {
        out_trade_no: facts.out_trade_no,
        amount_refund: facts.amount_refund,
        ...(facts.amount_total !== undefined ? { amount_total: facts.amount_total } : {}),
        ...(facts.mchid !== undefined ? { mchid: facts.mchid } : {}),
      },
      set: {
        refund_id: facts.refund_id,
        channel: facts.channel,
        user_received_account: facts.user_received_account,
        success_time: facts.success_time,
        settled_day: to === 'SUCCESS' ? settledDay(facts.success_time, rt.now()) : undefined,
        wechat_create_time: facts.create_time,
        payer_refund: facts.payer_refund,
      },
    },
    record?.amount_refund ?? 0,
    record ? { pk: record.order_pk, sk: record.order_sk } : keys.refund(outRefundNo),
  );
  if (outcome.kind === 'mismatch') return flag(rt, outRefundNo, facts, eventId, `differs in ${outcome.fields.join(', ')}`);
  if (outcome.kind === 'unknown') return flag(rt, outRefundNo, facts, eventId, 'no such refund');
  if (outcome.kind === 'applied') {
    countRefundOutcome(to);
    if (to === 'ABNORMAL') logger.warn('refund abnormal', { out_refund_no: outRefundNo, out_trade_no: facts.out_trade_no, event_id: eventId });
  }
  return outcome.kind;
}

async function flag(rt: Runtime, outRefundNo: string, facts: RefundFacts, eventId: string, reason: string): Promise<string> {
  logger.warn('unmatched refund event', { product: REFUND_PRODUCT, out_refund_no: outRefundNo, event_id: eventId, reason });
  await recordUnmatched(rt, REFUND_PRODUCT, outRefundNo, eventId, {
    reason,
    refund_status: facts.status,
    refund_id: facts.refund_id,
    out_trade_no: facts.out_trade_no,
    amount_refund: facts.amount_refund,
    amount_total: facts.amount_total,
    mchid: facts.mchid,
  });
  return 'unmatched';
}
