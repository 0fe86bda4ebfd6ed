import { randomUUID } from 'node:crypto';
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimStore, type ClaimedRecord } from '../../../shared/store/claims';
import { fromAttributes, toAttributes } from '../../../shared/store/items';
import { PENDING_INDEX, pendingAttributes, pendingKey } from '../../../shared/store/pending';
import { applyTransition } from '../../../shared/store/transitions';
import { localStack, testDynamoDbClient } from '../../support/env';

/**
 * The sparse pending index through the central write paths: a record is in it from its claim, stays while a write
 * leaves it non-final, and leaves it in the same write that makes it final (ClaimStore.complete's advance,
 * applyTransition). A write that is refused (superseded) never touches it.
 */
let client: DynamoDBClient;
let tableName: string;
let product: string;

beforeAll(() => {
  client = testDynamoDbClient();
  tableName = localStack().tableName;
  product = `TEST${randomUUID().slice(0, 8)}`;
});
afterAll(() => client?.destroy());

const key = () => ({ pk: `TEST#${randomUUID()}`, sk: 'X' });

async function indexed(pk: string): Promise<boolean> {
  const out = await client.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: PENDING_INDEX,
      KeyConditionExpression: 'pending_pk = :p',
      ExpressionAttributeValues: toAttributes({ ':p': pendingKey(product) }),
    }),
  );
  return (out.Items ?? []).map((i) => fromAttributes<{ pk: string }>(i)!.pk).includes(pk);
}

describe('pending index through the central writes', () => {
  it('a claim enters it; a completing advance to a final state leaves it in the same write', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const claimed = await store.claim(k, 'fp', 30_000, { state: 'CREATING', ...pendingAttributes(product, 1) });
    expect(await indexed(k.pk)).toBe(true);
    if (claimed.kind !== 'claimed') throw new Error('unreachable');
    const done = await store.complete<ClaimedRecord>(k, claimed.token, { x: 1 }, { to: 'REJECTED', from: ['CREATING'], pending: null });
    expect(done['state']).toBe('REJECTED');
    expect(done['pending_pk']).toBeUndefined();
    expect(await indexed(k.pk)).toBe(false);
  });

  it('an advance to a non-final state keeps it; a transition to a final state removes it; a superseded one changes nothing', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const claimed = await store.claim(k, 'fp', 30_000, { state: 'CREATING', ...pendingAttributes(product, 1) });
    if (claimed.kind !== 'claimed') throw new Error('unreachable');
    await store.complete(k, claimed.token, {}, { to: 'NOTPAY', from: ['CREATING'] });
    expect(await indexed(k.pk)).toBe(true);

    const paid = await applyTransition(client, tableName, { key: k, to: 'SUCCESS', from: ['CREATING', 'NOTPAY'], eventId: 'e1', pending: null });
    expect(paid.kind).toBe('applied');
    expect(await indexed(k.pk)).toBe(false);

    // A later, refused event never puts it back.
    const late = await applyTransition(client, tableName, {
      key: k, to: 'NOTPAY', from: ['CREATING'], eventId: 'e2', pending: { product, dueAt: 5 },
    });
    expect(late.kind).toBe('superseded');
    expect(await indexed(k.pk)).toBe(false);
  });
});
