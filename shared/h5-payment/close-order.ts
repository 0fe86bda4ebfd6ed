import * as v from 'valibot';
import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import { isTransient } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { WechatPayApiError } from '../wechatpay';
import { toView, type H5OrderRecord, type H5OrderView } from './record';
import { OUT_TRADE_NO } from './schema';
import { applyTransaction, transactionSchema } from './transaction';

const paid = (outTradeNo: string) =>
  conflict('ORDER_PAID', `order ${outTradeNo} is paid and cannot be closed; refund it instead (POST /refunds)`);

/**
 * `POST /h5-orders/{out_trade_no}/close` (APIv3 close). Idempotent. WeChat's 204 does not prove the order existed,
 * and a close can race a payment, so the outcome is what the order query says afterwards: CLOSED → the closed
 * order; paid → 409 ORDER_PAID (the caller refunds instead). Any refusal other than ORDER_CLOSED is also settled
 * by the query before we answer.
 */
export async function closeH5Order(rt: Runtime, outTradeNo: string | undefined): Promise<H5OrderView> {
  if (!outTradeNo || !OUT_TRADE_NO.test(outTradeNo)) {
    throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 6-32 characters of 0-9 A-Z a-z _ - | *' }]);
  }
  const key = keys.h5Order(outTradeNo);
  const record = await rt.claims.get<H5OrderRecord>(key);
  if (!record || record.state === 'CREATING') throw notFound(`order ${outTradeNo}`);
  if (record.state === 'SUCCESS' || record.state === 'REFUND') throw paid(outTradeNo);
  if (record.state === 'CLOSED') return toView(record, rt.now());

  const merchant = await rt.merchants.get('direct');
  let refusal: WechatPayApiError | undefined;
  try {
    await merchant.v3.request({
      method: 'POST',
      path: `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`,
      body: JSON.stringify({ mchid: merchant.mchid }),
      budgetMs: wechatBudgetMs('call'),
    });
  } catch (error) {
    if (isTransient(error)) throw unavailable('WeChat Pay did not answer the close; send it again (closing is idempotent)');
    if (!(error instanceof WechatPayApiError)) throw error;
    // ORDER_CLOSED is success; anything else (ORDER_PAID, TRADE_ERROR, …) is decided by the query below.
    if (error.code !== 'ORDER_CLOSED') refusal = error;
  }

  let tx: v.InferOutput<typeof transactionSchema>;
  try {
    const response = await merchant.v3.request<unknown>({
      method: 'GET',
      path: `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}`,
      query: { mchid: merchant.mchid },
      budgetMs: wechatBudgetMs('confirm'),
    });
    tx = v.parse(transactionSchema, response.data);
  } catch (error) {
    logger.warn('close not confirmed', { out_trade_no: outTradeNo, error: error instanceof Error ? error.name : 'unknown' });
    throw unavailable('the close could not be confirmed with WeChat Pay; send it again (closing is idempotent)');
  }
  const outcome = await applyTransaction(rt, tx, `query:close:${tx.transaction_id ?? outTradeNo}:${tx.trade_state}`);
  logger.info('order close confirmed', { out_trade_no: outTradeNo, trade_state: tx.trade_state, outcome });
  if (tx.trade_state === 'SUCCESS' || tx.trade_state === 'REFUND') throw paid(outTradeNo);
  const after = (await rt.claims.get<H5OrderRecord>(key))!;
  if (after.state === 'CLOSED') return toView(after, rt.now());
  if (refusal) {
    throw new ServiceError(422, refusal.code || 'WECHATPAY_REJECTED', refusal.message, {
      wechatpay: { status: refusal.status, code: refusal.code, message: refusal.message },
    });
  }
  // Closed at WeChat but the query does not show it yet: the caller asks again.
  throw unavailable('WeChat Pay has not confirmed the close yet; send it again (closing is idempotent)');
}
