/**
 * `npm run bench -- --only=pending`: what finding pending records costs, on DynamoDB Local with the real table
 * (shared/store/table.ts): 100,000 final records and 100 pending ones. The sweeper's Query on the sparse `pending`
 * index (shared/recovery/sweeper.ts `dueItems`) reads the 100 pending items only — O(pending) — while a filtered
 * Scan (what the sweeper must never do) reads every record of the table.
 */
import { BatchWriteItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTable, localDynamoDbClient, startDynamoDbLocal } from '../scripts/local/dynamodb';
import type { Runtime } from '../shared/runtime/container';
import { dueItems } from '../shared/recovery/sweeper';
import { toAttributes } from '../shared/store/items';
import { pendingAttributes } from '../shared/store/pending';
import type { SectionReport } from './stats';

export interface PendingBenchOptions {
  finalItems: number;
  pendingItems: number;
  rounds: number;
}

export async function runPending(options: PendingBenchOptions): Promise<SectionReport> {
  const dynamo = await startDynamoDbLocal({ inMemory: true });
  const client = localDynamoDbClient(dynamo.endpoint);
  const tableName = 'bench-pending';
  try {
    await ensureTable(client, tableName);
    const loadStart = Date.now();
    const now = Date.now();
    const items = [
      ...Array.from({ length: options.finalItems }, (_, i) => finalOrder(i, now)),
      ...Array.from({ length: options.pendingItems }, (_, i) => ({ ...finalOrder(options.finalItems + i, now), state: 'NOTPAY', ...pendingAttributes('H5', now - 1000 - i) })),
    ];
    await load(client, tableName, items);
    const loadSeconds = (Date.now() - loadStart) / 1000;

    // The sweeper's own Query, through a minimal runtime (only dynamo and the table name are used).
    const rt = { dynamo: client, config: { tableName } } as unknown as Runtime;
    const queryMs: number[] = [];
    const scanMs: number[] = [];
    let found = 0;
    let scanned = 0;
    let scanFound = 0;
    for (let round = 0; round < options.rounds; round += 1) {
      let t = performance.now();
      found = (await dueItems(rt, 'H5', Date.now(), 1000)).length;
      queryMs.push(performance.now() - t);
      if (round >= 3) continue; // the Scan takes seconds a round; three are enough to see it
      t = performance.now();
      ({ scanned, found: scanFound } = await scanPending(client, tableName));
      scanMs.push(performance.now() - t);
    }
    const q = median(queryMs);
    const s = median(scanMs);
    const markdown = [
      `### Pending index: ${options.finalItems.toLocaleString('en')} final + ${options.pendingItems} pending records (DynamoDB Local, medians of ${options.rounds} Query / ${Math.min(3, options.rounds)} Scan rounds; load ${loadSeconds.toFixed(0)} s)`,
      '',
      '| way to find pending records | items read | found | median ms |',
      '|---|---:|---:|---:|',
      `| Query on the sparse \`pending\` index (the sweeper) | ${found} | ${found} | ${q.toFixed(1)} |`,
      `| Scan with a filter (never used) | ${scanned.toLocaleString('en')} | ${scanFound} | ${s.toFixed(1)} |`,
      '',
      'Items read is what DynamoDB bills (read units): the Query reads only what the index holds, i.e. the pending records.',
    ].join('\n');
    return {
      section: 'pending',
      markdown,
      checks: [
        { name: 'pending: Query reads only pending items', value: `${found}`, goal: `= ${options.pendingItems}`, ok: found === options.pendingItems },
        { name: 'pending: Query vs Scan time', value: `${(s / q).toFixed(0)}×`, goal: '≥ 10×', ok: s / q >= 10 },
      ],
      data: { finalItems: options.finalItems, pendingItems: options.pendingItems, queryMs: q, scanMs: s, scanned, found },
    };
  } finally {
    client.destroy();
    await dynamo.stop();
  }
}

function finalOrder(i: number, now: number) {
  return {
    pk: `H5#BENCH${String(i).padStart(8, '0')}`,
    sk: 'ORDER',
    kind: 'H5_ORDER',
    out_trade_no: `BENCH${String(i).padStart(8, '0')}`,
    state: 'SUCCESS',
    amount_total: 100,
    currency: 'CNY',
    transaction_id: `4200${String(i).padStart(24, '0')}`,
    created_at: now,
    updated_at: now,
  };
}

async function load(client: DynamoDBClient, tableName: string, items: Record<string, unknown>[]): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let batch = batches[next++]!.map((item) => ({ PutRequest: { Item: toAttributes(item) } }));
      while (batch.length > 0) {
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: batch } }));
        batch = (out.UnprocessedItems?.[tableName] ?? []) as typeof batch;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function scanPending(client: DynamoDBClient, tableName: string): Promise<{ scanned: number; found: number }> {
  let scanned = 0;
  let found = 0;
  let start: Record<string, any> | undefined;
  do {
    const out = await client.send(
      new ScanCommand({ TableName: tableName, FilterExpression: 'attribute_exists(pending_pk)', ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    scanned += out.ScannedCount ?? 0;
    found += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return { scanned, found };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
