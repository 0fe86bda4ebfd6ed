import { BatchGetItemCommand, type AttributeValue, type BatchGetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { conflict, notFound, ServiceError } from '../http/errors';
import { parseWechatTime } from '../http/time';
import type { Runtime } from '../runtime/container';
import { fromAttributes, toAttributes, type Item } from '../store/items';
import { keys } from '../store/keys';
import type { PaidOrder } from './ledger';
import type { RefundRecord } from './record';

/**
 * The order a refund returns money from, read from our own records: which product (and so which refund protocol),
 * what was paid and the transaction — never from the caller. H5 orders and contract orders share WeChat's
 * out_trade_no space (one direct merchant), so at most one of the two exists.
 */
export async function findPaidOrder(rt: Runtime, outTradeNo: string): Promise<PaidOrder> {
  // One round trip for both places the order can be.
  const out = await rt.dynamo.send(
    new BatchGetItemCommand({
      RequestItems: {
        [rt.config.tableName]: {
          Keys: [keys.h5Order(outTradeNo), keys.contractOrder(outTradeNo), keys.deduction(outTradeNo)].map((k) => toAttributes({ ...k })),
          ConsistentRead: true,
        },
      },
    }),
  );
  if (Object.keys(out.UnprocessedKeys ?? {}).length > 0) {
    throw new ServiceError(503, 'ORDER_UNAVAILABLE', 'the order could not be read; retry', { retryAfterSeconds: 1 });
  }
  const found = (out.Responses?.[rt.config.tableName] ?? []).map((item) => fromAttributes<Item>(item)!);
  const h5 = found.find((item) => item['pk'] === keys.h5Order(outTradeNo).pk);
  const paporder = found.find((item) => item['pk'] === keys.contractOrder(outTradeNo).pk);
  const deduction = found.find((item) => item['pk'] === keys.deduction(outTradeNo).pk);
  if (found.length > 1) throw conflict('ORDER_AMBIGUOUS', `out_trade_no ${outTradeNo} names more than one order of this service`);
  const record = h5 ?? paporder ?? deduction;
  if (!record || record['state'] === 'CREATING') throw notFound(`order ${outTradeNo}`);
  const state = String(record['state']);
  const transactionId = record['transaction_id'];
  if ((state !== 'SUCCESS' && state !== 'REFUND') || typeof transactionId !== 'string') {
    throw conflict('ORDER_NOT_PAID', `order ${outTradeNo} is ${state}; only a paid order can be refunded`);
  }
  const ledger = {
    refund_reserved: record['refund_reserved'] as number | undefined,
    refund_count: record['refund_count'] as number | undefined,
    last_refund_at: record['last_refund_at'] as number | undefined,
    refund_nos: record['refund_nos'] as Set<string> | undefined,
  };
  if (h5) {
    const paidAt = typeof h5['success_time'] === 'string' ? parseWechatTime(h5['success_time']) : undefined;
    return {
      key: keys.h5Order(outTradeNo),
      product: 'H5',
      out_trade_no: outTradeNo,
      mchid: String(h5['mchid']),
      appid: String(h5['appid']),
      transaction_id: transactionId,
      total: Number(h5['amount_total']),
      currency: String(h5['currency'] ?? 'CNY'),
      ...(paidAt !== undefined ? { paid_at: paidAt } : {}),
      ledger,
    };
  }
  // A pay-and-sign payment or a papay deduction: both APIv2, both refunded through /secapi/pay/refund.
  const v2Order = (paporder ?? deduction)!;
  const paidAt = typeof v2Order['time_end'] === 'string' ? parseWechatTime(v2Order['time_end']) : undefined;
  return {
    key: paporder ? keys.contractOrder(outTradeNo) : keys.deduction(outTradeNo),
    product: paporder ? 'CONTRACT_ORDER' : 'DEDUCTION',
    out_trade_no: outTradeNo,
    mchid: String(v2Order['mchid']),
    appid: String(v2Order['appid']),
    transaction_id: transactionId,
    total: Number(v2Order['total_fee']),
    currency: 'CNY',
    ...(paidAt !== undefined ? { paid_at: paidAt } : {}),
    ledger,
  };
}

/** The refunds of an order (at most WeChat's 50), for the order's GET. */
export async function refundsOf(rt: Runtime, order: Item): Promise<RefundRecord[]> {
  const numbers = order['refund_nos'];
  if (!(numbers instanceof Set) || numbers.size === 0) return [];
  const wanted = [...numbers].map((no) => toAttributes({ ...keys.refund(String(no)) }));
  const found: RefundRecord[] = [];
  for (let i = 0; i < wanted.length; i += 100) {
    let request: Record<string, { Keys: Record<string, AttributeValue>[] }> | undefined = { [rt.config.tableName]: { Keys: wanted.slice(i, i + 100) } };
    for (let round = 0; request && round < 5; round += 1) {
      const out: BatchGetItemCommandOutput = await rt.dynamo.send(new BatchGetItemCommand({ RequestItems: request }));
      for (const item of out.Responses?.[rt.config.tableName] ?? []) found.push(fromAttributes<RefundRecord>(item)!);
      const left: Record<string, AttributeValue>[] | undefined = out.UnprocessedKeys?.[rt.config.tableName]?.Keys;
      request = left && left.length > 0 ? { [rt.config.tableName]: { Keys: left } } : undefined;
    }
    if (request) throw new ServiceError(503, 'REFUNDS_UNAVAILABLE', 'the refunds of this order could not be read; retry', { retryAfterSeconds: 1 });
  }
  return found;
}
