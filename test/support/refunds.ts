import { randomBytes } from 'node:crypto';
import type { PaidOrder } from '../../shared/refund/ledger';
import { keys } from '../../shared/store/keys';

/** A refund record as POST /refunds drafts it (before the ledger adds the claim), for tests that drive the ledger. */
export function refundDraft(order: PaidOrder, amount: number, outRefundNo = `RF${randomBytes(8).toString('hex')}`) {
  return {
    ...keys.refund(outRefundNo),
    kind: 'REFUND',
    fingerprint: 'f',
    out_refund_no: outRefundNo,
    out_trade_no: order.out_trade_no,
    product: order.product,
    protocol: order.product === 'H5' ? 'v3' : 'v2',
    order_pk: order.key.pk,
    order_sk: order.key.sk,
    mchid: order.mchid,
    appid: order.appid,
    transaction_id: order.transaction_id,
    amount_total: order.total,
    amount_refund: amount,
    currency: 'CNY',
    state: 'CREATING',
  };
}
