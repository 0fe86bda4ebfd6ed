import { ServiceError } from '../http/errors';
import { closeH5Order } from '../h5-payment/close-order';
import { confirmWithWechat } from '../h5-payment/get-order';
import { H5_FINAL, H5_PENDING_PRODUCT, type H5OrderRecord } from '../h5-payment/record';
import { confirmDeduction, PRODUCT as DEDUCTION_PRODUCT } from '../papay/deductions';
import type { DeductionRecord } from '../papay/record';
import { REFUND_PRODUCT } from '../refund/apply';
import { confirm as confirmRefund } from '../refund/get-refund';
import { REFUND_SETTLED } from '../refund/ledger';
import type { RefundRecord } from '../refund/record';
import { logger } from '../runtime/logger';
import { backoff, type Recoverer, type RecoveryResult } from './registry';

/**
 * Every product's recoverer, in one place. Each reuses its product's own query-and-apply (the code the GET
 * fallback runs), which applies WeChat's answer through the notification's transition.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * H5 orders: unpaid (NOTPAY, USERPAYING, PAYERROR) and UNCERTAIN creates (CREATING whose caller never came back).
 * Queried; one still unpaid past its `time_expire` is closed with the close API (closeH5Order: close, then the
 * query decides, so a payment racing the close is booked as paid, never as closed).
 */
export const h5OrderRecoverer: Recoverer = {
  product: H5_PENDING_PRODUCT,
  async recover(rt, item) {
    const record = item as H5OrderRecord;
    const after = await confirmWithWechat(rt, record);
    if (!after) return 'failed';
    if (H5_FINAL.includes(after.state)) return 'settled';
    if (after.state !== 'CREATING' && expired(after.time_expire, rt.now())) {
      try {
        const closed = await closeH5Order(rt, after.out_trade_no);
        logger.info('expired order closed', { out_trade_no: after.out_trade_no, state: closed.state });
        return closed.state === 'CLOSED' ? 'settled' : 'pending';
      } catch (error) {
        // ORDER_PAID: the close lost to a payment, which the close's own query just booked.
        if (error instanceof ServiceError && error.code === 'ORDER_PAID') return 'settled';
        throw error;
      }
    }
    return 'pending';
  },
  nextLookAt(rt, item, tries) {
    const record = item as H5OrderRecord;
    const look = backoff(rt.now(), tries, rt.config.h5QueryAfterSeconds * 1000, HOUR);
    // Never later than just past the order's own expiry: that is when it is closed.
    const expiry = record.time_expire ? Date.parse(record.time_expire) : Number.NaN;
    return Number.isFinite(expiry) && expiry > rt.now() ? Math.min(look, expiry + 1000) : look;
  },
};

/**
 * Refunds: CREATING, UNCERTAIN, PROCESSING, ABNORMAL. Queried by out_refund_no (§1.5: a minute after the create,
 * then backing off). A refund WeChat does not know stays pending: only the identical request may settle it (§5,
 * never a new out_refund_no), and the still-pending alarm makes a person look.
 */
export const refundRecoverer: Recoverer = {
  product: REFUND_PRODUCT,
  async recover(rt, item) {
    const after = await confirmRefund(rt, item as RefundRecord);
    if (!after) return 'failed';
    return settledIf(REFUND_SETTLED.includes(after.state));
  },
  nextLookAt: (rt, _item, tries) => backoff(rt.now(), tries, Math.max(MINUTE, rt.config.refundQueryAfterSeconds * 1000), 30 * MINUTE),
};

/**
 * Papay deductions: CREATING, UNCERTAIN, ACCEPTED. `/pay/paporderquery` (§2.6); ACCEPT may last 24 h in 24-hour
 * mode, so the look backs off to an hour.
 */
export const deductionRecoverer: Recoverer = {
  product: DEDUCTION_PRODUCT,
  async recover(rt, item) {
    const after = await confirmDeduction(rt, String((item as DeductionRecord).out_trade_no));
    if (!after) return 'failed';
    return settledIf(!['CREATING', 'UNCERTAIN', 'ACCEPTED'].includes(after.state));
  },
  nextLookAt: (rt, _item, tries) => backoff(rt.now(), tries, rt.config.h5QueryAfterSeconds * 1000, HOUR),
};

export const RECOVERERS: readonly Recoverer[] = [h5OrderRecoverer, refundRecoverer, deductionRecoverer];

function settledIf(settled: boolean): RecoveryResult {
  return settled ? 'settled' : 'pending';
}

function expired(timeExpire: string | undefined, now: number): boolean {
  const at = timeExpire ? Date.parse(timeExpire) : Number.NaN;
  return Number.isFinite(at) && at <= now;
}

