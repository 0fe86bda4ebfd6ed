import { UnusableNotificationError, type V3NotificationApplier } from '../notify/v3';
import type { V2NotificationApplier } from '../notify/v2';
import type { Runtime } from '../runtime/container';
import { applyRefundFacts } from './apply';
import { readV3Refund, v2Status, type RefundFacts } from './wechat';

export const REFUND_EVENT_TYPES = ['REFUND.SUCCESS', 'REFUND.ABNORMAL', 'REFUND.CLOSED'] as const;

/** `REFUND.*` at `/notify/refund` (APIv3): verified and decrypted by the pipeline, bound and applied here. */
export function refundV3Applier(rt: Runtime): V3NotificationApplier {
  return async (notification, merchant) => {
    const facts = readV3Refund(notification.resource);
    const outRefundNo = facts?.out_refund_no;
    if (!facts || !outRefundNo) throw new UnusableNotificationError('not a refund notification (no out_refund_no or refund_status)');
    // The event type and the payload must agree: REFUND.CLOSED carrying SUCCESS is not something to guess about.
    if (notification.eventType !== `REFUND.${facts.status}`) throw new UnusableNotificationError(`${notification.eventType} carries refund_status ${facts.status}`);
    // Bound to our merchant: one for another merchant is WeChat's, but not ours to apply (flagged by the binding).
    return applyRefundFacts(rt, outRefundNo, { ...facts, mchid: facts.mchid ?? merchant.mchid }, notification.id);
  };
}

const int = (value: string | undefined): number | undefined => (value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined);

/**
 * The APIv2 refund notification at `/notify/contract-order/refund`: `req_info` opened by the pipeline (it carries
 * no sign). v2 gives no notification id, so the refund id and the status make one: a re-send is a duplicate.
 */
export function refundV2Applier(rt: Runtime): V2NotificationApplier {
  return async (fields) => {
    const status = v2Status(fields['refund_status']);
    const outRefundNo = fields['out_refund_no'];
    if (!status || !outRefundNo) throw new UnusableNotificationError('not a refund notification (no out_refund_no or refund_status)');
    const facts: RefundFacts = {
      status,
      out_refund_no: outRefundNo,
      out_trade_no: fields['out_trade_no'],
      refund_id: fields['refund_id'],
      amount_refund: int(fields['refund_fee']),
      amount_total: int(fields['total_fee']),
      user_received_account: fields['refund_recv_accout'],
      success_time: fields['success_time'],
    };
    return applyRefundFacts(rt, outRefundNo, facts, `v2refund:${fields['refund_id'] ?? outRefundNo}:${fields['refund_status']}`);
  };
}
