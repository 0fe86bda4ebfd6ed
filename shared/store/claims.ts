import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { fromAttributes, setExpression, toAttributes, type Item } from './items';
import type { RecordKey } from './keys';
import { pendingUpdate, type PendingMark } from './pending';

/**
 * Claims on business keys (`out_trade_no`, `out_contract_code`): the mechanism that makes every outbound call
 * idempotent. A claim is a conditional write that stores a keyed fingerprint of the request and a short lease;
 * only the holder of the lease calls WeChat, so N concurrent identical requests make one call.
 *
 * Record fields owned here: `fingerprint`, `claim_status` (PENDING until the first call succeeded, then DONE),
 * `lease_token`, `lease_until` (epoch ms). Everything else belongs to the product that owns the record.
 */
export type ClaimStatus = 'PENDING' | 'DONE';

/**
 * A request's keyed fingerprint: `value` is stored with a claim; `matches` tells whether a stored value was made
 * from the same request (under the current or an older key).
 */
export interface Fingerprint {
  readonly value: string;
  matches(stored: string | undefined): boolean;
}

/** A fingerprint that matches only itself (tests, and requests with no keyed fingerprint). */
export function exactFingerprint(value: string): Fingerprint {
  return { value, matches: (stored) => stored === value };
}

/** The record attribute every product keeps its state in. */
const STATE = 'state';

/** A state change an outbound call makes when it completes: to `to`, but only from one of `from`. */
export interface StateAdvance {
  to: string;
  from: readonly string[];
  /** The pending index (shared/store/pending.ts), written only with the advance: null when `to` is final. */
  pending?: PendingMark;
}

export interface ClaimedRecord extends Item {
  pk: string;
  sk: string;
  fingerprint: string;
  claim_status: ClaimStatus;
  lease_token?: string;
  lease_until?: number;
  created_at: number;
  updated_at: number;
}

export type ClaimOutcome<T extends ClaimedRecord> =
  /** `record` is set when a dead holder's PENDING claim was taken over: what it had written is still there. */
  | { kind: 'claimed'; token: string; record?: T }
  /** The key is taken by a different request. */
  | { kind: 'conflict'; record: T }
  /** The same request is being served by someone else right now. */
  | { kind: 'in_progress'; record: T }
  /** The same request was served before. */
  | { kind: 'done'; record: T };

/**
 * A condition on another item that must hold for a claim to be written, checked in the same transaction (a
 * contract that must be signed, an order number no other product may hold). Costs no extra round trip.
 */
export interface ClaimGuard {
  key: RecordKey;
  condition: string;
  names?: Record<string, string>;
  values?: Item;
  /** The error the caller gets when the condition does not hold; `item` is the guarded item as it is, if any. */
  refusal: (item: Item | undefined) => Error;
  /** Written at `key` with the claim when the condition holds (a reservation riding in the same transaction). */
  put?: Item;
}

export class ClaimLostError extends Error {
  constructor(key: RecordKey) {
    super(`lease on ${key.pk} was lost`);
    this.name = 'ClaimLostError';
  }
}

export interface ClaimStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class ClaimStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: ClaimStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * One round trip in the common case: the put either claims the key (new, or a PENDING claim whose lease ran
   * out) or fails and hands back the record that is there.
   */
  async claim<T extends ClaimedRecord>(
    key: RecordKey,
    requestFingerprint: Fingerprint | string,
    leaseMs: number,
    attributes: Item = {},
    guards: readonly ClaimGuard[] = [],
  ): Promise<ClaimOutcome<T>> {
    const fingerprint = typeof requestFingerprint === 'string' ? exactFingerprint(requestFingerprint) : requestFingerprint;
    const now = this.now();
    const { token, item } = pendingClaim(key, fingerprint, leaseMs, attributes, now);
    const taken = guards.length > 0 ? await this.putGuarded<T>(item, guards) : await this.put<T>(item);
    if (taken === 'written') return { kind: 'claimed', token };
    const record = taken.record ?? (await this.get<T>(key));
    if (!record) return this.claim(key, fingerprint, leaseMs, attributes, guards); // deleted in between: try again
    if (fingerprint.matches(record.fingerprint) && record.claim_status === 'PENDING' && !isLeased(record, now)) {
      const takenOver = await this.takeOver(key, record, leaseMs, now);
      return takenOver ? { kind: 'claimed', token: takenOver, record } : { kind: 'in_progress', record };
    }
    return this.classify(record, fingerprint, now);
  }

  /** Writes a new claim; when the key is taken, hands back what is there. */
  private async put<T extends ClaimedRecord>(item: Item): Promise<'written' | { record: T | undefined }> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toAttributes(item),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'written';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { record: fromAttributes<T>(error.Item) };
    }
  }

  /**
   * The claim and its guards in one transaction. A key already taken wins over a failed guard, so a repeat of a
   * request served before gets its stored answer even when a guard no longer holds (a contract ended since).
   */
  private async putGuarded<T extends ClaimedRecord>(item: Item, guards: readonly ClaimGuard[]): Promise<'written' | { record: T | undefined }> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: toAttributes(item),
                  ConditionExpression: 'attribute_not_exists(pk)',
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              ...guards.map((guard) => {
                const check = {
                  TableName: this.tableName,
                  ConditionExpression: guard.condition,
                  ...(guard.names ? { ExpressionAttributeNames: guard.names } : {}),
                  ...(guard.values ? { ExpressionAttributeValues: toAttributes(guard.values) } : {}),
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
                };
                return guard.put
                  ? { Put: { ...check, Item: toAttributes({ ...guard.put, ...guard.key }) } }
                  : { ConditionCheck: { ...check, Key: toAttributes({ ...guard.key }) } };
              }),
            ],
          }),
        );
        return 'written';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') return { record: fromAttributes<T>(reasons[0].Item) };
        const failed = guards.findIndex((_, i) => reasons[i + 1]?.Code === 'ConditionalCheckFailed');
        if (failed >= 0) throw guards[failed]!.refusal(fromAttributes<Item>(reasons[failed + 1]?.Item));
        // A concurrent write touched one of the items (TransactionConflict): the same transaction again, briefly.
        if (attempt >= 8) throw error;
        await this.sleep(5 + Math.random() * 10 * (attempt + 1));
      }
    }
  }

  /**
   * Takes over a PENDING claim whose holder died. An update, not a put: whatever was written meanwhile (a
   * notification may already have moved the state) is kept; only the lease changes hands.
   */
  private takeOver(key: RecordKey, record: ClaimedRecord, leaseMs: number, now: number): Promise<string | undefined> {
    return this.lease(key, now + leaseMs, 'claim_status = :pending AND lease_until = :seen', {
      ':pending': 'PENDING',
      ':seen': record.lease_until ?? 0,
    });
  }

  /**
   * Replaces a DONE record its request gave up (a definitive refusal that consumed nothing at WeChat) with a new
   * claim for another request. Conditioned on the record being exactly the one the caller saw, so of two corrected
   * requests only one gets the key; undefined when someone else was first.
   */
  async reclaim(
    key: RecordKey,
    seen: ClaimedRecord,
    requestFingerprint: Fingerprint | string,
    leaseMs: number,
    attributes: Item = {},
  ): Promise<string | undefined> {
    const fingerprint = typeof requestFingerprint === 'string' ? exactFingerprint(requestFingerprint) : requestFingerprint;
    const now = this.now();
    const { token, item } = pendingClaim(key, fingerprint, leaseMs, attributes, now);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toAttributes(item),
          ConditionExpression: 'fingerprint = :seenFp AND claim_status = :done AND updated_at = :seenAt AND attribute_not_exists(lease_token)',
          ExpressionAttributeValues: toAttributes({ ':seenFp': seen.fingerprint, ':done': 'DONE', ':seenAt': seen.updated_at }),
        }),
      );
      return token;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /**
   * Takes the lease on a DONE record to renew its result (e.g. an H5 link that expired). `storedFingerprint` is
   * the record's own value, which the caller already matched to its request.
   */
  renew(key: RecordKey, storedFingerprint: string, leaseMs: number): Promise<string | undefined> {
    const now = this.now();
    return this.lease(
      key,
      now + leaseMs,
      'fingerprint = :fp AND claim_status = :done AND (attribute_not_exists(lease_until) OR lease_until < :now)',
      { ':fp': storedFingerprint, ':done': 'DONE', ':now': now },
    );
  }

  /** Hands the record's lease to a new token when `condition` holds; undefined when it does not. */
  private async lease(key: RecordKey, until: number, condition: string, values: Item): Promise<string | undefined> {
    const token = randomUUID();
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: toAttributes({ ...key }),
          UpdateExpression: 'SET lease_token = :token, lease_until = :until',
          ConditionExpression: condition,
          ExpressionAttributeValues: toAttributes({ ...values, ':token': token, ':until': until }),
        }),
      );
      return token;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /**
   * Stores an outbound call's result under the lease and marks the record DONE; fails if the lease was lost.
   *
   * `fields` are the call's own output (a link, its expiry, a prepay id) and may never hold `state`: state moves
   * only through `advance`, conditioned on the states it moves from. When a notification moved the record on
   * while WeChat was answering (an order paid during a link renewal), the state stays where it is and only the
   * fields are stored, so a record can never go backward (SUCCESS → NOTPAY).
   */
  async complete<T extends ClaimedRecord>(key: RecordKey, token: string, fields: Item, advance?: StateAdvance): Promise<T> {
    if (STATE in fields) throw new TypeError('complete() never writes state directly; pass it as advance');
    if (advance && advance.from.length === 0) throw new TypeError('an advance needs the states it moves from');
    const done = { ...fields, claim_status: 'DONE', updated_at: this.now() };
    if (advance) {
      const names = { '#state': STATE };
      const from = Object.fromEntries(advance.from.map((state, i) => [`:from${i}`, state]));
      const pending = pendingUpdate(advance.pending);
      const moved = await this.completeWhere<T>(key, { ...done, ...pending.set, [STATE]: advance.to }, {
        remove: pending.remove,
        condition: `lease_token = :token AND #state IN (${Object.keys(from).join(', ')})`,
        names,
        values: { ':token': token, ...from },
      });
      if (moved.kind === 'done') return moved.record;
      if (moved.record?.lease_token !== token) throw new ClaimLostError(key);
      // Still ours, but the state moved on meanwhile: keep it, store only the call's fields.
    }
    const stored = await this.completeWhere<T>(key, done, { condition: 'lease_token = :token', names: {}, values: { ':token': token } });
    if (stored.kind === 'done') return stored.record;
    throw new ClaimLostError(key);
  }

  private async completeWhere<T extends ClaimedRecord>(
    key: RecordKey,
    attributes: Item,
    where: { condition: string; names: Record<string, string>; values: Item; remove?: readonly string[] },
  ): Promise<{ kind: 'done'; record: T } | { kind: 'refused'; record: T | undefined }> {
    const set = setExpression(attributes);
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: toAttributes({ ...key }),
          UpdateExpression: `SET ${set.expression} REMOVE ${['lease_token', 'lease_until', ...(where.remove ?? [])].join(', ')}`,
          ConditionExpression: where.condition,
          ExpressionAttributeNames: { ...set.names, ...where.names },
          ExpressionAttributeValues: toAttributes({ ...set.values, ...where.values }),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'done', record: fromAttributes<T>(out.Attributes) as T };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'refused', record: fromAttributes<T>(error.Item) };
      throw error;
    }
  }

  /**
   * Gives the key back after a failure that consumed nothing at WeChat: a PENDING claim disappears (the same or a
   * corrected request may claim it again), a DONE record just drops the lease.
   */
  async release(key: RecordKey, token: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: toAttributes({ ...key }),
          ConditionExpression: 'lease_token = :token AND claim_status = :pending',
          ExpressionAttributeValues: toAttributes({ ':token': token, ':pending': 'PENDING' }),
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      await this.client
        .send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: toAttributes({ ...key }),
            UpdateExpression: 'REMOVE lease_token, lease_until',
            ConditionExpression: 'lease_token = :token',
            ExpressionAttributeValues: toAttributes({ ':token': token }),
          }),
        )
        .catch((inner: unknown) => {
          if (!(inner instanceof ConditionalCheckFailedException)) throw inner;
        });
    }
  }

  /** Sets bookkeeping attributes on an existing record (never creates one). */
  async touch(key: RecordKey, attributes: Item): Promise<void> {
    const set = setExpression(attributes);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: toAttributes({ ...key }),
          UpdateExpression: `SET ${set.expression}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: set.names,
          ExpressionAttributeValues: toAttributes(set.values),
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Adds `value` to the string set `attribute` of an existing record (idempotent: a set holds a value once). */
  async addToSet(key: RecordKey, attribute: string, value: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: toAttributes({ ...key }),
        UpdateExpression: 'ADD #a :v',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#a': attribute },
        ExpressionAttributeValues: toAttributes({ ':v': new Set([value]) }),
      }),
    );
  }

  /** Several records at once (BatchGetItem, consistent, 100 keys a request); missing ones are left out. */
  async getMany<T extends Item>(keys: readonly RecordKey[]): Promise<T[]> {
    const found: T[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100).map((k) => toAttributes({ ...k }));
      for (let attempt = 0; pending && pending.length > 0; attempt += 1) {
        const out: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: pending as never, ConsistentRead: true } } }),
        );
        for (const raw of out.Responses?.[this.tableName] ?? []) found.push(fromAttributes<T>(raw)!);
        pending = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
        if (pending && pending.length > 0) {
          if (attempt >= 8) throw new Error('DynamoDB kept keys unprocessed');
          await this.sleep(20 * 2 ** attempt);
        }
      }
    }
    return found;
  }

  async get<T extends Item>(key: RecordKey): Promise<T | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: toAttributes({ ...key }), ConsistentRead: true }),
    );
    return fromAttributes<T>(out.Item);
  }

  /**
   * Waits for another worker's lease to end (it completed, released, or timed out), so concurrent duplicates
   * get the first request's answer instead of an error.
   */
  async waitWhileLeased<T extends ClaimedRecord>(key: RecordKey, timeoutMs: number, intervalMs = 50): Promise<T | undefined> {
    const deadline = this.now() + timeoutMs;
    let delay = intervalMs;
    for (;;) {
      const record = await this.get<T>(key);
      if (!record || !isLeased(record, this.now())) return record;
      if (this.now() + delay > deadline) return record;
      await this.sleep(delay);
      delay = Math.min(delay * 2, 400);
    }
  }

  private classify<T extends ClaimedRecord>(record: T, fingerprint: Fingerprint, now: number): ClaimOutcome<T> {
    if (!fingerprint.matches(record.fingerprint)) return { kind: 'conflict', record };
    // A PENDING record whose lease just ran out is about to be taken over: the caller waits and claims again.
    if (isLeased(record, now) || record.claim_status === 'PENDING') return { kind: 'in_progress', record };
    return { kind: 'done', record };
  }
}

/** A fresh PENDING claim of `key` for the request `fingerprint`, with its lease token. */
function pendingClaim(key: RecordKey, fingerprint: Fingerprint, leaseMs: number, attributes: Item, now: number): { token: string; item: ClaimedRecord } {
  const token = randomUUID();
  return {
    token,
    item: {
      ...attributes,
      ...key,
      fingerprint: fingerprint.value,
      claim_status: 'PENDING',
      lease_token: token,
      lease_until: now + leaseMs,
      created_at: now,
      updated_at: now,
    },
  };
}

export function isLeased(record: ClaimedRecord, now: number): boolean {
  return record.lease_token !== undefined && (record.lease_until ?? 0) >= now;
}
