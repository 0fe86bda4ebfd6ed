import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { conflict, ServiceError } from '../http/errors';
import type { Runtime } from '../runtime/container';
import { fromAttributes, setExpression, toAttributes, type Item } from '../store/items';
import type { RecordKey } from '../store/keys';
import { keys } from '../store/keys';
import { pendingUpdate } from '../store/pending';
import type { RefundLedger, RefundRecord, RefundState } from './record';

/**
 * The refund ledger: Σ (amount of every refund not CLOSED or refused outright) ≤ what was paid, always.
 *
 * The amount is reserved on the order record in the same DynamoDB transaction that creates the refund record, before
 * WeChat is called, conditioned on what is left; it goes back only when WeChat says no refund exists (refused
 * outright, or CLOSED), in the same transaction that records that, and at most once (`reservation_released`).
 */

/** WeChat's limits (same for v3 and v2 refunds). */
export const MAX_REFUNDS_PER_ORDER = 50;
export const REFUND_WINDOW_MS = 365 * 24 * 3600 * 1000;

export interface PaidOrder {
  key: RecordKey;
  product: 'H5' | 'CONTRACT_ORDER' | 'DEDUCTION';
  out_trade_no: string;
  mchid: string;
  appid: string;
  transaction_id: string;
  total: number;
  currency: string;
  /** WeChat's payment time, epoch ms, when known: refunds close a year after it. */
  paid_at?: number;
  ledger: RefundLedger;
}

const PAID_STATES = ['SUCCESS', 'REFUND'];

export type ReserveOutcome = { kind: 'reserved'; token: string } | { kind: 'exists' };

/**
 * Reserves `record.amount_refund` on the order and creates the refund record (a PENDING claim held by the returned
 * token) in one transaction. Refused with a 4xx naming the rule when the order is not paid, the amount exceeds what
 * is left, WeChat's per-order limit is reached, or the previous refund of the order is too recent.
 */
export async function reserveRefund(
  rt: Runtime,
  order: PaidOrder,
  /** The refund record without its claim fields (added here). */
  record: Item & { out_refund_no: string; amount_refund: number },
  leaseMs: number,
): Promise<ReserveOutcome> {
  const amount = record.amount_refund;
  const minIntervalMs = rt.config.refundMinIntervalSeconds * 1000;
  for (let attempt = 0; ; attempt += 1) {
    const now = rt.now();
    const token = randomUUID();
    const refundItem: Item = { ...record, claim_status: 'PENDING', lease_token: token, lease_until: now + leaseMs, created_at: now, updated_at: now };
    const items: TransactWriteItem[] = [
      { Put: { TableName: rt.config.tableName, Item: toAttributes(refundItem), ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Update: {
          TableName: rt.config.tableName,
          Key: toAttributes({ ...order.key }),
          UpdateExpression:
            'SET refund_reserved = if_not_exists(refund_reserved, :zero) + :amount, refund_count = if_not_exists(refund_count, :zero) + :one, last_refund_at = :now, updated_at = :now ADD refund_nos :no',
          ConditionExpression: [
            '#state IN (:paid0, :paid1)',
            'transaction_id = :tx',
            '(attribute_not_exists(refund_reserved) OR refund_reserved <= :room)',
            '(attribute_not_exists(refund_count) OR refund_count < :max)',
            ...(minIntervalMs > 0 ? ['(attribute_not_exists(last_refund_at) OR last_refund_at <= :edge)'] : []),
          ].join(' AND '),
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: toAttributes({
            ':zero': 0,
            ':one': 1,
            ':amount': amount,
            ':now': now,
            ':no': new Set([record.out_refund_no]),
            ':paid0': PAID_STATES[0],
            ':paid1': PAID_STATES[1],
            ':tx': order.transaction_id,
            ':room': order.total - amount,
            ':max': MAX_REFUNDS_PER_ORDER,
            ...(minIntervalMs > 0 ? { ':edge': now - minIntervalMs } : {}),
          }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ];
    try {
      await rt.dynamo.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return { kind: 'reserved', token };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [refundReason, orderReason] = error.CancellationReasons ?? [];
      if (refundReason?.Code === 'ConditionalCheckFailed') return { kind: 'exists' };
      if (orderReason?.Code === 'ConditionalCheckFailed') {
        const current = fromAttributes<Item>(orderReason.Item) ?? (await rt.claims.get<Item>(order.key));
        throw ruleRefusal(order, current, amount, now, minIntervalMs);
      }
      // Another refund of the same order (or a notification) wrote it at the same moment: try again, briefly.
      if (attempt >= 12) throw new ServiceError(503, 'REFUND_BUSY', 'the order is being refunded concurrently; retry shortly', { retryAfterSeconds: 1 });
      await sleep(10 + Math.random() * 20 * (attempt + 1));
    }
  }
}

/** Which rule refused the reservation, named for the caller, with what it needs to act. */
function ruleRefusal(order: PaidOrder, current: Item | undefined, amount: number, now: number, minIntervalMs: number): ServiceError {
  if (!current || !PAID_STATES.includes(String(current['state'])) || current['transaction_id'] !== order.transaction_id) {
    return conflict('ORDER_NOT_PAID', `order ${order.out_trade_no} is not paid; only a paid order can be refunded`);
  }
  const reserved = Number(current['refund_reserved'] ?? 0);
  const count = Number(current['refund_count'] ?? 0);
  const last = Number(current['last_refund_at'] ?? 0);
  if (reserved + amount > order.total) {
    const refundable = Math.max(0, order.total - reserved);
    return new ServiceError(409, 'REFUND_EXCEEDS_PAID', `refund of ${amount} fen exceeds what is left to refund of order ${order.out_trade_no}: ${refundable} fen`, {
      errors: [{ field: 'amount.refund', message: `must be at most ${refundable} fen (refundable)` }],
    });
  }
  if (count >= MAX_REFUNDS_PER_ORDER) {
    return conflict('REFUND_LIMIT_REACHED', `order ${order.out_trade_no} already has ${MAX_REFUNDS_PER_ORDER} refunds, WeChat's limit per order`);
  }
  const waitMs = last + minIntervalMs - now;
  return new ServiceError(429, 'REFUND_TOO_SOON', `WeChat wants partial refunds of one order at least ${minIntervalMs / 1000} s apart; retry after the interval`, {
    retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
  });
}

export interface RefundChange {
  to: RefundState;
  from: readonly RefundState[];
  set?: Item;
  /** A notification's (or query's) id: recorded once, a duplicate changes nothing. */
  eventId?: string;
  /** The lease of the outbound call that produced the change: completes the claim. */
  token?: string;
  /** Attributes that must already hold these values: binds a notification to our record. */
  expect?: Item;
}

export type ChangeOutcome =
  /** `record` is the refund as stored now, when DynamoDB handed it back (not for a releasing transaction). */
  | { kind: 'applied'; record?: RefundRecord }
  | { kind: 'duplicate' | 'superseded'; record: RefundRecord }
  | { kind: 'mismatch'; record: RefundRecord; fields: string[] }
  | { kind: 'lost' | 'unknown' };

/**
 * The states nothing more will come from: out of the recovery sweeper's pending index. ABNORMAL stays in it (it
 * may still turn SUCCESS after the abnormal-refund API, and the still-pending alarm makes a person look).
 */
export const REFUND_SETTLED: readonly RefundState[] = ['SUCCESS', 'CLOSED', 'REJECTED'];

/** The states after which nothing exists at WeChat for this refund: the reserved amount goes back. */
const RELEASING: readonly RefundState[] = ['CLOSED', 'REJECTED'];

/**
 * Moves a refund forward (never back). Moving to CLOSED or REJECTED gives the reserved amount back to the order in
 * the same transaction, once. Used by the create call (with its lease token), by both notification routes and by
 * the refund queries.
 */
export async function changeRefund(rt: Runtime, outRefundNo: string, change: RefundChange, amount: number, orderKey: RecordKey): Promise<ChangeOutcome> {
  const key = keys.refund(outRefundNo);
  const now = rt.now();
  // Final refunds leave the pending index in the same write (shared/store/pending.ts); others stay where they are.
  const pending = pendingUpdate(REFUND_SETTLED.includes(change.to) ? null : undefined);
  const set = setExpression({ ...change.set, state: change.to, updated_at: now, ...(change.token ? { claim_status: 'DONE' } : {}) });
  const names: Record<string, string> = { ...set.names, '#st': 'state' };
  const values: Item = { ...set.values };
  const from = change.from.map((state, i) => {
    values[`:from${i}`] = state;
    return `:from${i}`;
  });
  const conditions = ['attribute_exists(pk)', `#st IN (${from.join(', ')})`];
  let update = `SET ${set.expression}`;
  const removes: string[] = [...pending.remove];
  const adds: string[] = [];
  if (change.token) {
    conditions.push('lease_token = :token');
    values[':token'] = change.token;
    removes.push('lease_token', 'lease_until');
  }
  if (change.eventId) {
    names['#events'] = 'event_ids';
    values[':event'] = change.eventId;
    values[':eventSet'] = new Set([change.eventId]);
    conditions.push('(attribute_not_exists(#events) OR NOT contains(#events, :event))');
    adds.push('#events :eventSet');
  }
  Object.entries(change.expect ?? {}).forEach(([name, value], i) => {
    names[`#x${i}`] = name;
    values[`:x${i}`] = value;
    conditions.push(`#x${i} = :x${i}`);
  });
  const releases = RELEASING.includes(change.to);
  if (releases) {
    update += ', reservation_released = :true';
    values[':true'] = true;
    conditions.push('attribute_not_exists(reservation_released)');
  }
  if (removes.length > 0) update += ` REMOVE ${removes.join(', ')}`;
  if (adds.length > 0) update += ` ADD ${adds.join(', ')}`;
  const refundUpdate = {
    TableName: rt.config.tableName,
    Key: toAttributes({ ...key }),
    UpdateExpression: update,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: toAttributes(values),
  };

  try {
    if (releases) {
      await rt.dynamo.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Update: { ...refundUpdate, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
            {
              Update: {
                TableName: rt.config.tableName,
                Key: toAttributes({ ...orderKey }),
                UpdateExpression: 'SET refund_reserved = refund_reserved - :amount',
                ConditionExpression: 'refund_reserved >= :amount',
                ExpressionAttributeValues: toAttributes({ ':amount': amount }),
              },
            },
          ],
        }),
      );
      return { kind: 'applied' };
    }
    const out = await rt.dynamo.send(new UpdateItemCommand({ ...refundUpdate, ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
    const record = fromAttributes<RefundRecord>(out.Attributes);
    return record ? { kind: 'applied', record } : { kind: 'applied' };
  } catch (error) {
    let old: RefundRecord | undefined;
    if (error instanceof ConditionalCheckFailedException) old = fromAttributes<RefundRecord>(error.Item);
    else if (error instanceof TransactionCanceledException) {
      const reason = error.CancellationReasons?.[0];
      if (reason?.Code !== 'ConditionalCheckFailed') throw error;
      old = fromAttributes<RefundRecord>(reason.Item);
    } else throw error;
    old ??= await rt.claims.get<RefundRecord>(key);
    if (!old) return { kind: 'unknown' };
    const fields = Object.entries(change.expect ?? {})
      .filter(([name, value]) => old![name] !== value)
      .map(([name]) => name);
    if (fields.length > 0) return { kind: 'mismatch', record: old, fields };
    if (change.token && old.lease_token !== change.token) return { kind: 'lost' };
    const seen = old['event_ids'];
    if (change.eventId && seen instanceof Set && seen.has(change.eventId)) return { kind: 'duplicate', record: old };
    return { kind: 'superseded', record: old };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
