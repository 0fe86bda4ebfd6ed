import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import { isTransient } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { applyTransition } from '../store/transitions';
import { MalformedResponseError, WechatPayV2ReturnError } from '../wechatpay';
import { v2ClientFor } from './client';
import { ConfigError } from '../config/env';
import type { MerchantContext } from '../merchant/context';
import { getContractOrder } from './get-order';
import { PAYMENT_FORWARD_FROM, type ContractCodeRecord, type ContractOrderRecord, type ContractOrderView, toView } from './record';
import { OUT_TRADE_NO } from './schema';

export const CLOSE_ORDER_PATH = '/pay/closeorder';
/** WeChat refuses `/pay/closeorder` earlier than 5 minutes after the order was made. */
export const MIN_CLOSE_AGE_MS = 5 * 60 * 1000;

const paid = (outTradeNo: string) =>
  conflict('ORDER_PAID', `contract order ${outTradeNo} is paid and cannot be closed; refund it instead (POST /refunds)`);

/**
 * `POST /contract-orders/{out_trade_no}/close` (APIv2 `/pay/closeorder`). Idempotent. `ORDERPAID` → 409 ORDER_PAID
 * after the payment is fetched (GET's order query); `ORDERCLOSED` counts as closed. The contract code stays used:
 * it was sent to WeChat with the order.
 */
export async function closeContractOrder(rt: Runtime, outTradeNo: string | undefined): Promise<ContractOrderView> {
  if (!outTradeNo || !OUT_TRADE_NO.test(outTradeNo)) {
    throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 1-32 characters of 0-9 A-Z a-z _ - | *' }]);
  }
  const key = keys.contractOrder(outTradeNo);
  const order = await rt.claims.get<ContractOrderRecord>(key);
  if (!order || order.kind !== 'CONTRACT_ORDER' || order.state === 'CREATING') throw notFound(`contract order ${outTradeNo}`);
  if (order.state === 'SUCCESS') throw paid(outTradeNo);
  if (order.state === 'CLOSED') return view(rt, order);
  if (order.state === 'REJECTED') throw conflict('ORDER_NOT_CREATED', `contract order ${outTradeNo} was refused by WeChat Pay; there is nothing to close`);
  const waitMs = order.created_at + MIN_CLOSE_AGE_MS - rt.now();
  if (waitMs > 0) {
    throw new ServiceError(429, 'CLOSE_TOO_EARLY', 'WeChat Pay closes an order no earlier than 5 minutes after it was made', {
      retryAfterSeconds: Math.ceil(waitMs / 1000),
    });
  }

  const merchant = await rt.merchants.get('direct');
  const { errCode, data } = await closeAtWechat(merchant, order.appid, outTradeNo);
  logger.info('contract order close answered', { out_trade_no: outTradeNo, err_code: errCode ?? 'none' });
  if (errCode === 'ORDERPAID') {
    // Fetch the payment now (GET confirms an unpaid order with the order query), then tell the caller.
    await getContractOrder(rt, outTradeNo).catch(() => undefined);
    throw paid(outTradeNo);
  }
  if (errCode !== undefined && errCode !== 'ORDERCLOSED') {
    throw new ServiceError(422, errCode, data['err_code_des'] || errCode, { wechatpay: { result_code: data['result_code'], err_code: errCode, err_code_des: data['err_code_des'] } });
  }
  const outcome = await applyTransition<ContractOrderRecord>(rt.dynamo, rt.config.tableName, {
    key,
    to: 'CLOSED',
    from: PAYMENT_FORWARD_FROM.CLOSED,
    eventId: `close:${outTradeNo}`,
    now: rt.now(),
    pending: null,
    set: { closed_at: rt.now() },
  });
  const after = (await rt.claims.get<ContractOrderRecord>(key))!;
  // Paid meanwhile (the payment notification won): the order, not a close.
  if (after.state === 'SUCCESS') throw paid(outTradeNo);
  if (outcome.kind !== 'applied' && after.state !== 'CLOSED') throw unavailable('the order changed while it was being closed; send the close again');
  return view(rt, after);
}

/**
 * `/pay/closeorder` for an order or a deduction of the direct merchant. Throws 503 when WeChat gave no usable answer
 * or a SYSTEMERROR (closing is idempotent: the caller sends it again), 502 on a return_code failure; otherwise gives
 * WeChat's err_code (undefined = closed) for the caller to judge (ORDERPAID, ORDERCLOSED…).
 */
export async function closeAtWechat(merchant: MerchantContext, appid: string, outTradeNo: string): Promise<{ errCode: string | undefined; data: Record<string, string> }> {
  const client = v2ClientFor(merchant);
  if (!client) throw new ConfigError('the direct merchant secret has no apiV2Key');
  let data: Record<string, string>;
  try {
    data = (await client.post(CLOSE_ORDER_PATH, { appid, out_trade_no: outTradeNo }, { budgetMs: wechatBudgetMs('call') })).data;
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) throw unavailable('WeChat Pay did not answer the close; send it again (closing is idempotent)');
    if (error instanceof WechatPayV2ReturnError) {
      throw new ServiceError(502, 'WECHATPAY_RETURN_FAIL', `WeChat Pay did not accept the call: ${error.returnMsg || error.returnCode}`);
    }
    throw error;
  }
  const errCode = data['result_code'] === 'SUCCESS' ? undefined : (data['err_code'] ?? 'FAIL');
  if (errCode === 'SYSTEMERROR') throw unavailable('WeChat Pay could not close it now; send it again (closing is idempotent)');
  return { errCode, data };
}

async function view(rt: Runtime, order: ContractOrderRecord): Promise<ContractOrderView> {
  return toView(order, await rt.claims.get<ContractCodeRecord>(keys.contractCode(order.contract_code)));
}
