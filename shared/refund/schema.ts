import * as v from 'valibot';
import { fen, pattern, text } from '../validation/fields';
import { OUT_TRADE_NO } from '../h5-payment/schema';

/** Fields the service fills from its own records; a caller sending them is told so. */
const ours = () => v.optional(v.never('is set by the service from the order and must not be sent'));

/** WeChat's rule for `out_refund_no` (v3 and v2 alike). */
export const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

/** `POST /refunds`: which order, our refund number, how much. Protocol, total, currency and transaction come from us. */
export const createRefundSchema = v.strictObject({
  out_trade_no: pattern(OUT_TRADE_NO, 'must be 6-32 characters of 0-9 A-Z a-z _ - | *'),
  out_refund_no: pattern(OUT_REFUND_NO, 'must be 1-64 characters of 0-9 A-Z a-z _ - | * @'),
  reason: v.optional(
    v.pipe(text(80), v.check((s) => Buffer.byteLength(s, 'utf8') <= 80, 'must be at most 80 bytes (UTF-8)')),
  ),
  amount: v.strictObject({
    refund: fen(),
    currency: v.optional(v.literal('CNY', 'must be CNY')),
    total: ours(),
  }),
  transaction_id: ours(),
  notify_url: ours(),
  funds_account: ours(),
});

export type CreateRefundInput = v.InferOutput<typeof createRefundSchema>;
