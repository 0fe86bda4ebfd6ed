import * as v from 'valibot';
import { notFound } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { v2ClientFor } from './client';
import { applyPaymentResult, type PaymentResult } from './notification';
import { toView, type ContractCodeRecord, type ContractOrderRecord, type ContractOrderView } from './record';
import { OUT_TRADE_NO } from './schema';
import { wechatBudgetMs } from '../runtime/invocation';
import { orderRefundsView, type OrderRefundsView } from '../refund/record';
import { refundsOf } from '../refund/orders';

export const ORDER_QUERY_PATH = '/pay/orderquery';

/**
 * `GET /contract-orders/{out_trade_no}`: the payment state (from the payment notification) and the contract state
 * (from the signing / termination notifications) of one pay-and-sign order, from our table. An unpaid order older
 * than `H5_QUERY_AFTER_SECONDS` (and not checked within that time) is first confirmed with WeChat's APIv2
 * `/pay/orderquery`, so a lost payment notification cannot leave a paid order looking unpaid.
 */
export async function getContractOrder(rt: Runtime, outTradeNo: string | undefined): Promise<ContractOrderView & Partial<OrderRefundsView>> {
  if (!outTradeNo || !OUT_TRADE_NO.test(outTradeNo)) {
    throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 1-32 characters of 0-9 A-Z a-z _ - | *' }]);
  }
  const key = keys.contractOrder(outTradeNo);
  let order = await rt.claims.get<ContractOrderRecord>(key);
  if (!order || order.kind !== 'CONTRACT_ORDER' || order.state === 'CREATING') throw notFound(`contract order ${outTradeNo}`);
  if (needsConfirmation(rt, order)) order = (await confirmWithWechat(rt, order)) ?? order;
  const code = await rt.claims.get<ContractCodeRecord>(keys.contractCode(order.contract_code));
  const view = toView(order, code);
  // A paid order shows what was refunded of it (refunds are their own records, listed on the order).
  return order.state === 'SUCCESS' ? { ...view, ...orderRefundsView(await refundsOf(rt, order)) } : view;
}

function needsConfirmation(rt: Runtime, order: ContractOrderRecord): boolean {
  const minAgeMs = rt.config.h5QueryAfterSeconds * 1000;
  const ageMs = rt.now() - order.created_at;
  const sinceCheckMs = rt.now() - (order.last_checked_at ?? 0);
  return order.state === 'NOTPAY' && ageMs >= minAgeMs && sinceCheckMs >= minAgeMs;
}

const DIGITS = /^(0|[1-9][0-9]{0,15})$/;
const digits = (what: string) => v.pipe(v.string(), v.regex(DIGITS, `${what} must be a whole number`));
const present = () => v.pipe(v.string(), v.minLength(1));

/**
 * A verified `/pay/orderquery` answer (`return_code SUCCESS`). Only a `result_code SUCCESS` answer describes the
 * order; what we bind to (appid, mch_id, out_trade_no, total_fee) must be there, and a paid one names its
 * transaction.
 */
const orderQueryAnswerSchema = v.pipe(
  v.looseObject({
    result_code: v.literal('SUCCESS'),
    appid: present(),
    mch_id: present(),
    out_trade_no: present(),
    trade_state: present(),
    trade_state_desc: v.optional(v.string()),
    total_fee: digits('total_fee'),
    transaction_id: v.optional(v.string()),
    cash_fee: v.optional(digits('cash_fee')),
    bank_type: v.optional(v.string()),
    time_end: v.optional(v.string()),
    is_subscribe: v.optional(v.string()),
  }),
  v.check((a) => a.trade_state !== 'SUCCESS' || (a.transaction_id ?? '') !== '', 'transaction_id is required for a payment'),
);

class OrderQueryError extends Error {
  override name = 'OrderQueryError';
}

/**
 * Asks WeChat and applies what it says through the payment notification's own transition: `SUCCESS` (event
 * `query:<transaction_id>`) and `PAYERROR` move the state forward; anything else (NOTPAY, USERPAYING, CLOSED, …)
 * only records the check. Any failure answers the stored state; the next GET tries again.
 */
export async function confirmWithWechat(rt: Runtime, order: ContractOrderRecord): Promise<ContractOrderRecord | undefined> {
  const key = keys.contractOrder(order.out_trade_no);
  try {
    const merchant = await rt.merchants.get('direct');
    const client = v2ClientFor(merchant);
    if (!client) throw new OrderQueryError('the direct merchant secret has no apiV2Key');
    const response = await client.post(
      ORDER_QUERY_PATH,
      { appid: order.appid, out_trade_no: order.out_trade_no },
      { budgetMs: wechatBudgetMs('confirm') },
    );
    const parsed = v.safeParse(orderQueryAnswerSchema, response.data);
    if (!parsed.success) {
      const data = response.data;
      throw new OrderQueryError(
        data['result_code'] === 'SUCCESS' ? 'incomplete orderquery answer' : `orderquery refused: ${data['err_code'] ?? data['result_code'] ?? '(none)'}`,
      );
    }
    const answer = parsed.output;
    if (answer.out_trade_no !== order.out_trade_no) throw new OrderQueryError('orderquery answered for another order');

    let outcome: string = 'checked';
    const result: Omit<PaymentResult, 'result_code'> = {
      appid: answer.appid,
      mch_id: answer.mch_id,
      out_trade_no: answer.out_trade_no,
      total_fee: answer.total_fee,
      transaction_id: answer.transaction_id,
    };
    if (answer.trade_state === 'SUCCESS') {
      const txId = answer.transaction_id as string;
      outcome = await applyPaymentResult(
        rt,
        {
          ...result,
          result_code: 'SUCCESS',
          cash_fee: answer.cash_fee,
          bank_type: answer.bank_type,
          time_end: answer.time_end,
          is_subscribe: answer.is_subscribe,
        },
        `query:${txId}`,
      );
    } else if (answer.trade_state === 'PAYERROR') {
      outcome = await applyPaymentResult(
        rt,
        { ...result, result_code: 'FAIL', err_code: 'PAYERROR', err_code_des: answer.trade_state_desc },
        `query:PAYERROR:${answer.transaction_id || answer.out_trade_no}`,
      );
    }
    await rt.claims.touch(key, { last_checked_at: rt.now() });
    logger.info('contract order confirmed with WeChat', { out_trade_no: order.out_trade_no, trade_state: answer.trade_state, outcome });
    return await rt.claims.get<ContractOrderRecord>(key);
  } catch (error) {
    // The stored state is still the best answer we have; the next GET tries again.
    logger.warn('contract order query failed', {
      out_trade_no: order.out_trade_no,
      error: error instanceof Error ? error.name : 'unknown',
      ...(error instanceof OrderQueryError ? { reason: error.message } : {}),
    });
    return undefined;
  }
}
