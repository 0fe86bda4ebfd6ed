import { BatchWriteItemCommand, QueryCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type { Runtime } from '../runtime/container';
import { fromAttributes, toAttributes, type Item } from '../store/items';
import { keys } from '../store/keys';
import type { Difference } from './compare';

export interface ReconciliationRun {
  day: string;
  mchid: string;
  ran_at: number;
  bill_sha1: string;
  bill_lines: number;
  settled_here: number;
  differences: number;
}

const RETENTION_SECONDS = 400 * 24 * 3600;

/**
 * Replaces the day's stored result with this run's: every difference under a key fixed by its kind and business
 * key (a re-run reports each once), the ones resolved since deleted, then the run summary.
 */
export async function saveReconciliation(rt: Runtime, run: ReconciliationRun, differences: readonly Difference[]): Promise<void> {
  const expires = Math.floor(rt.now() / 1000) + RETENTION_SECONDS;
  const wanted = new Map(differences.map((d) => [keys.reconciliationDifference(run.day, d.kind, d.key).sk, d]));
  const stale = (await storedItems(rt, run.day)).filter((item) => item['sk'] !== 'RUN' && !wanted.has(String(item['sk'])));
  const writes: WriteRequest[] = [
    ...stale.map((item) => ({ DeleteRequest: { Key: toAttributes({ pk: item['pk'], sk: item['sk'] }) } })),
    ...differences.map(({ kind, ...rest }) => ({
      PutRequest: {
        Item: toAttributes({ ...keys.reconciliationDifference(run.day, kind, rest.key), kind: 'RECONCILIATION_DIFFERENCE', difference: kind, ...rest, found_at: run.ran_at, expires_at: expires }),
      },
    })),
    { PutRequest: { Item: toAttributes({ ...keys.reconciliationRun(run.day), kind: 'RECONCILIATION_RUN', ...run, expires_at: expires }) } },
  ];
  for (let i = 0; i < writes.length; i += 25) {
    let batch = writes.slice(i, i + 25);
    for (let attempt = 0; batch.length > 0; attempt += 1) {
      const out = await rt.dynamo.send(new BatchWriteItemCommand({ RequestItems: { [rt.config.tableName]: batch } }));
      batch = out.UnprocessedItems?.[rt.config.tableName] ?? [];
      if (batch.length > 0) {
        if (attempt >= 8) throw new Error('DynamoDB kept reconciliation writes unprocessed');
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  }
}

/** The day's run and its differences, as stored (one Query on the day's partition). */
export async function storedItems(rt: Runtime, day: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await rt.dynamo.send(
      new QueryCommand({
        TableName: rt.config.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: toAttributes({ ':pk': keys.reconciliationRun(day).pk }),
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    for (const raw of page.Items ?? []) items.push(fromAttributes<Item>(raw)!);
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
