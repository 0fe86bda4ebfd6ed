import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { Runtime } from '../runtime/container';
import { fromAttributes, toAttributes, type Item } from '../store/items';
import { SETTLED_DAY, SETTLED_DAY_INDEX } from '../store/table';
import type { SettledRecord } from './compare';

/** Every settlement we recorded on a Beijing day: one Query (paged) of the sparse `by_settled_day` index. */
export async function settledOn(rt: Runtime, day: string): Promise<SettledRecord[]> {
  const records: SettledRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await rt.dynamo.send(
      new QueryCommand({
        TableName: rt.config.tableName,
        IndexName: SETTLED_DAY_INDEX,
        KeyConditionExpression: '#day = :day',
        ExpressionAttributeNames: { '#day': SETTLED_DAY },
        ExpressionAttributeValues: toAttributes({ ':day': day }),
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    for (const raw of page.Items ?? []) {
      const record = toSettled(fromAttributes<Item>(raw)!);
      if (record) records.push(record);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return records;
}

function toSettled(item: Item): SettledRecord | undefined {
  const str = (name: string) => (typeof item[name] === 'string' ? (item[name] as string) : undefined);
  const num = (name: string) => (typeof item[name] === 'number' ? (item[name] as number) : Number.NaN);
  const tx = str('transaction_id');
  switch (item['kind']) {
    case 'H5_ORDER':
      return { kind: 'payment', key: `PAY:${str('out_trade_no')}`, out_trade_no: str('out_trade_no')!, amount: num('amount_total'), product: 'H5', ...(tx ? { transaction_id: tx } : {}) };
    case 'CONTRACT_ORDER':
      return { kind: 'payment', key: `PAY:${str('out_trade_no')}`, out_trade_no: str('out_trade_no')!, amount: num('total_fee'), product: 'PAY_AND_SIGN', ...(tx ? { transaction_id: tx } : {}) };
    case 'DEDUCTION':
      return { kind: 'payment', key: `PAY:${str('out_trade_no')}`, out_trade_no: str('out_trade_no')!, amount: num('total_fee'), product: 'PAPAY', ...(tx ? { transaction_id: tx } : {}) };
    case 'REFUND':
      return { kind: 'refund', key: `REFUND:${str('out_refund_no')}`, out_trade_no: str('out_trade_no')!, out_refund_no: str('out_refund_no')!, amount: num('amount_refund'), product: 'REFUND' };
    default:
      return undefined;
  }
}
