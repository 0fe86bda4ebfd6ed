import { notFound } from '../http/errors';
import { logger } from '../runtime/logger';
import type { Runtime } from '../runtime/container';
import { keys } from '../store/keys';
import { OUT_TRADE_NO, } from './schema';
import { toView, type H5OrderRecord, type H5OrderView } from './record';
import { applyTransaction, transactionSchema } from './transaction';
import * as v from 'valibot';
import { RequestValidationError } from '../http/validation';
import { wechatBudgetMs } from '../runtime/invocation';
import { orderRefundsView, type OrderRefundsView } from '../refund/record';
import { refundsOf } from '../refund/orders';

/**
 * `GET /h5-orders/{out_trade_no}`. An unpaid order older than the configured age is confirmed with WeChat's query
 * API first, so a lost notification cannot leave a paid order looking unpaid.
 */
export async function getH5Order(rt: Runtime, outTradeNo: string | undefined): Promise<H5OrderView & Partial<OrderRefundsView>> {
  if (!outTradeNo || !OUT_TRADE_NO.test(outTradeNo)) {
    throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 6-32 characters of 0-9 A-Z a-z _ - | *' }]);
  }
  const key = keys.h5Order(outTradeNo);
  let record = await rt.claims.get<H5OrderRecord>(key);
  if (!record || record.state === 'CREATING') throw notFound(`order ${outTradeNo}`);
  if (needsConfirmation(rt, record)) record = (await confirmWithWechat(rt, record)) ?? record;
  const view = toView(record, rt.now());
  // A paid order shows what was refunded of it (refunds are their own records, listed on the order).
  return record.state === 'SUCCESS' || record.state === 'REFUND' ? { ...view, ...orderRefundsView(await refundsOf(rt, record)) } : view;
}

function needsConfirmation(rt: Runtime, record: H5OrderRecord): boolean {
  const ageMs = rt.now() - record.created_at;
  const sinceCheckMs = rt.now() - (record.last_checked_at ?? 0);
  const minAgeMs = rt.config.h5QueryAfterSeconds * 1000;
  return (record.state === 'NOTPAY' || record.state === 'USERPAYING') && ageMs >= minAgeMs && sinceCheckMs >= minAgeMs;
}

/**
 * Asks WeChat's order query and applies the answer through the notification's own transition; the record as stored
 * afterwards, or undefined when WeChat gave no usable answer. Used by the GET and by the recovery sweeper.
 */
export async function confirmWithWechat(rt: Runtime, record: H5OrderRecord): Promise<H5OrderRecord | undefined> {
  try {
    const merchant = await rt.merchants.get('direct');
    const response = await merchant.v3.request<unknown>({
      method: 'GET',
      path: `/v3/pay/transactions/out-trade-no/${encodeURIComponent(record.out_trade_no)}`,
      query: { mchid: merchant.mchid },
      budgetMs: wechatBudgetMs('confirm'),
    });
    const tx = v.parse(transactionSchema, response.data);
    const outcome = await applyTransaction(rt, tx, `query:${tx.transaction_id ?? tx.trade_state}`);
    await rt.claims.touch(keys.h5Order(record.out_trade_no), { last_checked_at: rt.now() });
    logger.info('order confirmed with WeChat', { out_trade_no: record.out_trade_no, trade_state: tx.trade_state, outcome });
    return await rt.claims.get<H5OrderRecord>(keys.h5Order(record.out_trade_no));
  } catch (error) {
    // The stored state is still the best answer we have; the next GET tries again.
    logger.warn('order query failed', { out_trade_no: record.out_trade_no, error: error instanceof Error ? error.name : 'unknown' });
    return undefined;
  }
}
