import { ConditionalCheckFailedException, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromAttributes, setExpression, toAttributes, type Item } from './items';
import type { RecordKey } from './keys';
import { pendingUpdate, type PendingMark } from './pending';

/**
 * Forward-only state changes driven by WeChat notifications (or by a query that found what a lost notification
 * would have said). One conditional UpdateItem both records the notification id and moves the state, so
 * duplicates and concurrent copies change the record exactly once.
 */
export interface TransitionRequest {
  key: RecordKey;
  /** The state this event moves the record to. */
  to: string;
  /** States from which `to` is a step forward; anything else means the record is already there or beyond. */
  from: readonly string[];
  /** WeChat's notification id (or a synthetic id for a query result). */
  eventId: string;
  /** Attributes the event writes alongside the state. */
  set?: Item;
  /** Attributes that must already hold these values: binds the event to our record (mchid, appid, amount). */
  expect?: Item;
  now?: number;
  /** The pending index (shared/store/pending.ts): null takes the record out (it is final), undefined leaves it. */
  pending?: PendingMark;
  /** Set false when only the outcome matters: DynamoDB then returns nothing on success (less to read and parse). */
  returnRecord?: boolean;
}

/** The outcome when the caller asked for no record back on success. */
export type TransitionResult<T extends Item> = { kind: 'applied' } | Exclude<TransitionOutcome<T>, { kind: 'applied' }>;

export type TransitionOutcome<T extends Item> =
  | { kind: 'applied'; record: T }
  /** This event id was applied before. */
  | { kind: 'duplicate'; record: T }
  /** The record is already in `to` or a later state (e.g. a different notification got there first). */
  | { kind: 'superseded'; record: T }
  /** The event does not describe our record: the named attributes differ. */
  | { kind: 'mismatch'; record: T; fields: string[] }
  | { kind: 'unknown' };

export const STATE = 'state';
export const EVENT_IDS = 'event_ids';

export async function applyTransition<T extends Item>(
  client: DynamoDBClient,
  tableName: string,
  request: TransitionRequest & { returnRecord: false },
): Promise<TransitionResult<T>>;
export async function applyTransition<T extends Item>(
  client: DynamoDBClient,
  tableName: string,
  request: TransitionRequest,
): Promise<TransitionOutcome<T>>;
export async function applyTransition<T extends Item>(
  client: DynamoDBClient,
  tableName: string,
  request: TransitionRequest,
): Promise<TransitionOutcome<T> | TransitionResult<T>> {
  const returnRecord = request.returnRecord !== false;
  const now = request.now ?? Date.now();
  const pending = pendingUpdate(request.pending);
  const set = setExpression({ ...request.set, ...pending.set, [STATE]: request.to, updated_at: now });
  const names: Record<string, string> = { ...set.names, '#state': STATE, '#events': EVENT_IDS };
  const values: Item = { ...set.values, ':event': request.eventId, ':eventSet': new Set([request.eventId]) };

  const fromPlaceholders = request.from.map((state, i) => {
    values[`:from${i}`] = state;
    return `:from${i}`;
  });
  const expectations = Object.entries(request.expect ?? {}).map(([name, value], i) => {
    names[`#x${i}`] = name;
    values[`:x${i}`] = value;
    return `#x${i} = :x${i}`;
  });
  const condition = [
    'attribute_exists(pk)',
    fromPlaceholders.length > 0 ? `#state IN (${fromPlaceholders.join(', ')})` : undefined,
    '(attribute_not_exists(#events) OR NOT contains(#events, :event))',
    ...expectations,
  ]
    .filter(Boolean)
    .join(' AND ');

  try {
    const out = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: toAttributes({ ...request.key }),
        UpdateExpression: `SET ${set.expression}${pending.remove.length > 0 ? ` REMOVE ${pending.remove.join(', ')}` : ''} ADD #events :eventSet`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: toAttributes(values),
        ReturnValues: returnRecord ? 'ALL_NEW' : 'NONE',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return returnRecord ? { kind: 'applied', record: fromAttributes<T>(out.Attributes) as T } : { kind: 'applied' };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const record = fromAttributes<T>(error.Item);
    if (!record) return { kind: 'unknown' };
    return classifyRefusal(record, request);
  }
}

function classifyRefusal<T extends Item>(record: T, request: TransitionRequest): TransitionOutcome<T> {
  const fields = Object.entries(request.expect ?? {})
    .filter(([name, value]) => record[name] !== value)
    .map(([name]) => name);
  if (fields.length > 0) return { kind: 'mismatch', record, fields };
  const seen = record[EVENT_IDS];
  if (seen instanceof Set && seen.has(request.eventId)) return { kind: 'duplicate', record };
  return { kind: 'superseded', record };
}
