import { ConditionalCheckFailedException, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Runtime } from '../runtime/container';
import { remainingMs } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { countRecovery } from '../runtime/metrics';
import { fromAttributes, toAttributes, type Item } from '../store/items';
import { PENDING_AT, PENDING_INDEX, PENDING_PK, pendingKey } from '../store/pending';
import type { Recoverer } from './registry';

/**
 * The recovery sweeper: finds due records in the sparse pending index (a Query per product, never a Scan, so the
 * cost is O(pending)), takes a short lease on each, and lets the product's recoverer settle it.
 *
 * - Lease: one conditional UpdateItem moves `pending_at` from the value the Query saw to the next look (at least
 *   `leaseMs` ahead). Of concurrent sweepers exactly one wins an item; the others skip it. A sweeper that dies
 *   mid-item leaves it due again at that time: nothing is lost, and the run is resumable by construction (what
 *   was done moved out of the due range; what was not is still due).
 * - Bounded: no item is started with less than `reserveMs` of the invocation left.
 * - Rate: query starts are spaced `1000 / maxQps` ms apart over the whole run, `concurrency` at a time.
 */
export interface SweepOptions {
  /** Queries per second towards WeChat, over every product (WeChat documents 300 QPS for refund queries). */
  maxQps: number;
  concurrency: number;
  /** A leased item is not looked at by anyone else for this long, whatever its recoverer says. */
  leaseMs: number;
  /** Left free at the end of the invocation; no item starts with less than this remaining. */
  reserveMs: number;
  /** Items older than this (from `created_at`) and still pending are counted for the alarm. */
  stillPendingAfterMs: number;
  pageSize: number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_SWEEP: SweepOptions = {
  maxQps: 20,
  concurrency: 4,
  leaseMs: 60_000,
  reserveMs: 8_000,
  stillPendingAfterMs: 6 * 3600 * 1000,
  pageSize: 50,
};

export interface SweepReport {
  looked: number;
  settled: number;
  pending: number;
  failed: number;
  /** Leases another sweeper (or a final write) took first. */
  skipped: number;
  stillPendingOld: number;
  /** True when the run stopped on its time budget with due items possibly left (the next run goes on). */
  outOfTime: boolean;
}

export async function sweep(rt: Runtime, recoverers: readonly Recoverer[], options: Partial<SweepOptions> = {}): Promise<SweepReport> {
  const o = { ...DEFAULT_SWEEP, ...options };
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const report: SweepReport = { looked: 0, settled: 0, pending: 0, failed: 0, skipped: 0, stillPendingOld: 0, outOfTime: false };
  const spacingMs = 1000 / o.maxQps;
  let nextStart = 0;
  const pace = async () => {
    const now = Date.now();
    const at = Math.max(now, nextStart);
    nextStart = at + spacingMs;
    if (at > now) await sleep(at - now);
  };
  const timeLeft = () => remainingMs() > o.reserveMs;

  for (const recoverer of recoverers) {
    let limited = false;
    while (!limited) {
      if (!timeLeft()) {
        report.outOfTime = true;
        break;
      }
      const due = await dueItems(rt, recoverer.product, rt.now(), o.pageSize);
      if (due.length === 0) break;
      let index = 0;
      const worker = async () => {
        while (index < due.length && !limited) {
          if (!timeLeft()) {
            report.outOfTime = true;
            return;
          }
          const item = due[index++]!;
          const record = await lease(rt, recoverer, item, o.leaseMs);
          if (!record) {
            report.skipped += 1;
            continue;
          }
          report.looked += 1;
          await pace();
          const result = await look(rt, recoverer, record);
          if (result === 'limited') limited = true;
          if (result === 'settled') {
            report.settled += 1;
            countRecovery('RecoveryRecovered');
          } else if (result === 'failed' || result === 'limited') {
            report.failed += 1;
            countRecovery('RecoveryQueryFailures');
          } else report.pending += 1;
          const since = recoverer.overdueSince?.(record) ?? Number(record['created_at'] ?? rt.now());
          if (result !== 'settled' && rt.now() - since >= o.stillPendingAfterMs) {
            report.stillPendingOld += 1;
            countRecovery('RecoveryStillPending');
            logger.warn('still pending', { product: recoverer.product, pk: record['pk'], state: record['state'] });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency, due.length) }, worker));
      if (report.outOfTime) break;
    }
    if (report.outOfTime) break;
  }
  logger.info('recovery sweep', { ...report });
  return report;
}

async function look(rt: Runtime, recoverer: Recoverer, record: Item) {
  try {
    return await recoverer.recover(rt, record);
  } catch (error) {
    // One record's failure never stops the run; its lease already moved it to a later look.
    logger.warn('recovery failed', { product: recoverer.product, pk: record['pk'], error: error instanceof Error ? error.name : 'unknown' });
    return 'failed' as const;
  }
}

/** Due items of one product, oldest first: keys only (the index projects nothing else). */
export async function dueItems(rt: Runtime, product: string, now: number, limit: number): Promise<Item[]> {
  const out = await rt.dynamo.send(
    new QueryCommand({
      TableName: rt.config.tableName,
      IndexName: PENDING_INDEX,
      KeyConditionExpression: '#ppk = :ppk AND #pat <= :now',
      ExpressionAttributeNames: { '#ppk': PENDING_PK, '#pat': PENDING_AT },
      ExpressionAttributeValues: toAttributes({ ':ppk': pendingKey(product), ':now': now }),
      Limit: limit,
    }),
  );
  return (out.Items ?? []).map((item) => fromAttributes<Item>(item)!);
}

/**
 * Takes the item for this sweeper: `pending_at` from what the Query saw to the next look, in one conditional
 * write that fails if another sweeper moved it or a final write took the record out of the index meanwhile.
 * The record as it is now, or undefined when someone else has it.
 */
async function lease(rt: Runtime, recoverer: Recoverer, item: Item, leaseMs: number): Promise<Item | undefined> {
  const now = rt.now();
  const tries = 1;
  const next = Math.max(now + leaseMs, recoverer.nextLookAt(rt, item, tries));
  try {
    const out = await rt.dynamo.send(
      new UpdateItemCommand({
        TableName: rt.config.tableName,
        Key: toAttributes({ pk: item['pk'], sk: item['sk'] }),
        UpdateExpression: 'SET #pat = :next, pending_tries = if_not_exists(pending_tries, :zero) + :one',
        ConditionExpression: '#ppk = :ppk AND #pat = :seen',
        ExpressionAttributeNames: { '#ppk': PENDING_PK, '#pat': PENDING_AT },
        ExpressionAttributeValues: toAttributes({ ':ppk': item[PENDING_PK], ':seen': item[PENDING_AT], ':next': next, ':zero': 0, ':one': 1 }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    const record = fromAttributes<Item>(out.Attributes)!;
    // The backoff needs the count of looks, known only now: a second small write only when it moves further out.
    const later = recoverer.nextLookAt(rt, record, Number(record['pending_tries'] ?? 1));
    if (later > next) await reschedule(rt, record, next, later);
    return record;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

async function reschedule(rt: Runtime, record: Item, seen: number, next: number): Promise<void> {
  try {
    await rt.dynamo.send(
      new UpdateItemCommand({
        TableName: rt.config.tableName,
        Key: toAttributes({ pk: record['pk'], sk: record['sk'] }),
        UpdateExpression: 'SET #pat = :next',
        ConditionExpression: '#pat = :seen',
        ExpressionAttributeNames: { '#pat': PENDING_AT },
        ExpressionAttributeValues: toAttributes({ ':seen': seen, ':next': next }),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
