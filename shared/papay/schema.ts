import * as v from 'valibot';
import { fen, ipv4Address, pattern, text } from '../validation/fields';

export const CONTRACT_ID = /^[0-9A-Za-z_-]{1,32}$/;
const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;

/** Fields the service fills; a caller sending them is told so. */
const ours = () => v.optional(v.never('is set by the service and must not be sent'));

/** `POST /deductions`: which contract, our order number, how much. */
export const createDeductionSchema = v.strictObject({
  contract_id: pattern(CONTRACT_ID, 'must be 1-32 characters of 0-9 A-Z a-z _ -'),
  out_trade_no: pattern(OUT_TRADE_NO, 'must be 6-32 characters of 0-9 A-Z a-z _ - | *'),
  total_fee: fen(),
  body: text(127),
  attach: v.optional(text(128)),
  spbill_create_ip: v.optional(ipv4Address()),
  appid: ours(),
  mch_id: ours(),
  notify_url: ours(),
  trade_type: ours(),
});

export type CreateDeductionInput = v.InferOutput<typeof createDeductionSchema>;

export const terminateContractSchema = v.strictObject({
  // WeChat's page says 256 characters, its schema 512: kept within 256 bytes.
  reason: v.pipe(text(256), v.check((s) => Buffer.byteLength(s, 'utf8') <= 256, 'must be at most 256 bytes (UTF-8)')),
});

/** `POST /papay-contracts/{contract_id}/pre-deduction-notice`: how much, and for how many chargeable days (1-3). */
export const preDeductionNoticeSchema = v.strictObject({
  estimated_amount: fen(),
  deduct_days: v.optional(v.pipe(v.number('must be an integer'), v.integer('must be an integer'), v.minValue(1, 'must be 1-3'), v.maxValue(3, 'must be 1-3'))),
});
