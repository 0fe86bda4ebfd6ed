import { ConditionalCheckFailedException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { closeContractOrder } from '../contract-order/close-order';
import { confirmWithWechat as confirmContractOrder } from '../contract-order/get-order';
import { CONTRACT_ORDER_PENDING_PRODUCT, PREPAY_TTL_MS, type ContractCodeRecord, type ContractOrderRecord } from '../contract-order/record';
import { ServiceError } from '../http/errors';
import { PRODUCT as REPAYMENT_CONTRACT_PRODUCT } from '../repayment-contract/contract-facts';
import { confirmWithWechat as confirmRepaymentContract } from '../repayment-contract/get-contract';
import { tokenValid, type RepaymentContractRecord } from '../repayment-contract/record';
import { confirmRepayment, REPAYMENT_PENDING_PRODUCT } from '../repayment-contract/repayments';
import { recoverContractByCode } from '../papay/contracts';
import type { Runtime } from '../runtime/container';
import { toAttributes } from '../store/items';
import { keys } from '../store/keys';
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
  // An unpaid order is legitimately pending until it expires (WeChat closes one without time_expire after 7 days).
  overdueSince: (item) => {
    const record = item as H5OrderRecord;
    if (record.state === 'CREATING') return record.created_at;
    const expiry = record.time_expire ? Date.parse(record.time_expire) : Number.NaN;
    return Number.isFinite(expiry) ? expiry : record.created_at + 7 * 24 * HOUR;
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
  // Bank-card refunds take 1–3 working days: PROCESSING is overdue only after that; a lost create at once.
  overdueSince: (item) => Number(item['created_at']) + (item['state'] === 'PROCESSING' ? 72 * HOUR : 0),
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
  // 24-hour mode: WeChat may take up to 24 h to charge an ACCEPTED deduction.
  overdueSince: (item) => Number(item['created_at']) + (item['state'] === 'ACCEPTED' ? 24 * HOUR : 0),
  nextLookAt: (rt, _item, tries) => backoff(rt.now(), tries, rt.config.h5QueryAfterSeconds * 1000, HOUR),
};

/**
 * Pay-and-sign orders: the payment (CREATING, UNCERTAIN, NOTPAY, PAYERROR, REJECTED after an unknown attempt) is
 * confirmed with `/pay/orderquery`; a paid order whose contract is not signed yet is asked for with
 * `/papay/querycontract` (recoverContractByCode). The order leaves the index when its payment is final and, if
 * paid, its contract is too (that takes two records, so the sweeper itself clears the order, conditioned on the
 * state it saw). An unpaid order past its prepay validity (2 h) is closed with `/pay/closeorder`.
 */
export const contractOrderRecoverer: Recoverer = {
  product: CONTRACT_ORDER_PENDING_PRODUCT,
  async recover(rt, item) {
    let order = item as ContractOrderRecord;
    if (order.state !== 'SUCCESS' && order.state !== 'CLOSED') {
      const after = await confirmContractOrder(rt, order);
      if (!after) return 'failed';
      order = after;
    }
    if (order.state === 'CLOSED') return clearIfStill(rt, order);
    if (order.state !== 'SUCCESS') {
      if (order.state === 'NOTPAY' && rt.now() >= order.created_at + PREPAY_TTL_MS + 5 * MINUTE) {
        try {
          await closeContractOrder(rt, order.out_trade_no);
        } catch (error) {
          if (!(error instanceof ServiceError && error.code === 'ORDER_PAID')) throw error;
        }
        const closed = await rt.claims.get<ContractOrderRecord>(keys.contractOrder(order.out_trade_no));
        if (closed?.state === 'CLOSED') return clearIfStill(rt, closed);
      }
      return 'pending';
    }
    const codeKey = keys.contractCode(order.contract_code);
    let code = await rt.claims.get<ContractCodeRecord>(codeKey);
    if (!code || !CONTRACT_FINAL.includes(code.state)) {
      const merchant = await rt.merchants.get('direct');
      await recoverContractByCode(rt, merchant, order.plan_id, order.contract_code);
      code = await rt.claims.get<ContractCodeRecord>(codeKey);
    }
    return code && CONTRACT_FINAL.includes(code.state) ? clearIfStill(rt, order) : 'pending';
  },
  // Unpaid: legitimately pending while the prepay lives; paid but unsigned: overdue from the payment on.
  overdueSince: (item) => Number(item['created_at']) + (item['state'] === 'SUCCESS' ? 0 : PREPAY_TTL_MS),
  nextLookAt(rt, item, tries) {
    const look = backoff(rt.now(), tries, rt.config.h5QueryAfterSeconds * 1000, HOUR);
    const closeAt = Number(item['created_at']) + PREPAY_TTL_MS + 5 * MINUTE + 1000;
    return item['state'] === 'NOTPAY' && closeAt > rt.now() ? Math.min(look, closeAt) : look;
  },
};

/** The contract states nothing more is expected of after a payment (REJECTED: "already signed" was checked). */
const CONTRACT_FINAL: readonly string[] = ['SIGNED', 'TERMINATED', 'REJECTED'];

/** Takes a composite record out of the index, only while it is still in the state the recoverer judged final. */
async function clearIfStill(rt: Runtime, record: { pk: string; sk: string; state: string }): Promise<RecoveryResult> {
  try {
    await rt.dynamo.send(
      new UpdateItemCommand({
        TableName: rt.config.tableName,
        Key: toAttributes({ pk: record.pk, sk: record.sk }),
        UpdateExpression: 'REMOVE pending_pk, pending_at',
        ConditionExpression: '#state = :seen',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: toAttributes({ ':seen': record.state }),
      }),
    );
    return 'settled';
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'pending'; // it moved on: looked at again
    throw error;
  }
}

/**
 * Credit-repayment presigns: one PRESIGNED past its 10-minute token is confirmed with the query-contract API (a
 * signing whose notification was lost shows up as SIGNED) or else marked EXPIRED; a lost presign answer (PRESIGNING,
 * UNCERTAIN) is queried and stays pending until WeChat knows a contract or the identical request settles it.
 */
export const repaymentContractRecoverer: Recoverer = {
  product: REPAYMENT_CONTRACT_PRODUCT,
  async recover(rt, item) {
    const record = item as RepaymentContractRecord;
    const expired = record.state === 'PRESIGNED' && !tokenValid(record, rt.now());
    if (record.state === 'PRESIGNED' && !expired) return 'pending';
    const after = await confirmRepaymentContract(rt, record, expired);
    if (!after) return 'failed';
    return settledIf(!['PRESIGNING', 'UNCERTAIN', 'PRESIGNED'].includes(after.state));
  },
  nextLookAt(rt, item, tries) {
    const look = backoff(rt.now(), tries, rt.config.h5QueryAfterSeconds * 1000, HOUR);
    const tokenEnd = Number(item['redirect_url_expires_at'] ?? 0) + 1000;
    return tokenEnd > rt.now() ? Math.min(look, tokenEnd) : look;
  },
};

/**
 * Credit repayments started with deduct-orders: PENDING (accepted, not repaid) and UNCERTAIN (a lost answer) are
 * asked about with the deduct-order query until final. Failed repayments may never be notified (docs/wechatpay.md).
 */
export const repaymentRecoverer: Recoverer = {
  product: REPAYMENT_PENDING_PRODUCT,
  async recover(rt, item) {
    const after = await confirmRepayment(rt, String(item['out_trade_no']));
    if (!after) return 'failed';
    return after.state === 'PAY_SUCCESS' || after.state === 'PAY_FAIL' || after.state === 'REJECTED' ? 'settled' : 'pending';
  },
  // WeChat may hold a repayment until its scheduled date: overdue only a day after that.
  overdueSince: (item) => Number(item['created_at']) + 15 * 24 * HOUR,
  nextLookAt: (rt, _item, tries) => backoff(rt.now(), tries, rt.config.h5QueryAfterSeconds * 1000, HOUR),
};

export const RECOVERERS: readonly Recoverer[] = [h5OrderRecoverer, refundRecoverer, deductionRecoverer, contractOrderRecoverer, repaymentContractRecoverer, repaymentRecoverer];

function settledIf(settled: boolean): RecoveryResult {
  return settled ? 'settled' : 'pending';
}

function expired(timeExpire: string | undefined, now: number): boolean {
  const at = timeExpire ? Date.parse(timeExpire) : Number.NaN;
  return Number.isFinite(at) && at <= now;
}

