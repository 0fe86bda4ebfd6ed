import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ClaimStore, type ClaimedRecord } from '../../../shared/store/claims';
import { claimedCall } from '../../../shared/store/claimed-call';
import { applyTransition } from '../../../shared/store/transitions';
import { localStack, testDynamoDbClient } from '../../support/env';

let client: DynamoDBClient;
let tableName: string;

beforeAll(() => {
  client = testDynamoDbClient();
  tableName = localStack().tableName;
});
afterAll(() => client?.destroy());

const key = () => ({ pk: `TEST#${randomUUID()}`, sk: 'X' });

describe('ClaimStore against DynamoDB Local', () => {
  it('claims once, classifies the same and a different fingerprint', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const first = await store.claim(k, 'fp-a', 30_000);
    expect(first.kind).toBe('claimed');
    expect((await store.claim(k, 'fp-a', 30_000)).kind).toBe('in_progress');
    expect((await store.claim(k, 'fp-b', 30_000)).kind).toBe('conflict');
    if (first.kind !== 'claimed') throw new Error('unreachable');
    await store.complete(k, first.token, { answer: 42 });
    const again = await store.claim<ClaimedRecord & { answer: number }>(k, 'fp-a', 30_000);
    expect(again.kind).toBe('done');
    if (again.kind === 'done') expect(again.record.answer).toBe(42);
  });

  it('takes over a PENDING claim whose lease ran out', async () => {
    let now = 1_000_000;
    const store = new ClaimStore({ client, tableName, now: () => now });
    const k = key();
    expect((await store.claim(k, 'fp', 1_000)).kind).toBe('claimed');
    await store.touch(k, { state: 'SUCCESS' }); // e.g. a notification landed while the holder was dead
    now += 5_000;
    const takeover = await store.claim<ClaimedRecord & { state?: string }>(k, 'fp', 1_000, { state: 'CREATING' });
    expect(takeover.kind).toBe('claimed');
    if (takeover.kind === 'claimed') expect(takeover.record?.state).toBe('SUCCESS');
    expect((await store.get<{ state: string }>(k))?.state).toBe('SUCCESS');
  });

  it('makes one call for 20 concurrent identical requests and gives all of them its answer', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        claimedCall<ClaimedRecord & { answer?: string }>({
          claims: store,
          key: k,
          fingerprint: 'same',
          initial: {},
          call: async () => {
            calls += 1;
            await new Promise((r) => setTimeout(r, 200));
            return { answer: 'from-wechat' };
          },
          onRepeat: () => 'replay',
          onConflict: () => new Error('conflict'),
          onBusy: () => new Error('busy'),
        }),
      ),
    );
    expect(calls).toBe(1);
    expect(results.every((r) => r.record.answer === 'from-wechat')).toBe(true);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('gives the key back when the call fails, so the same request can succeed later', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const base = { claims: store, key: k, fingerprint: 'fp', initial: {}, onRepeat: () => 'replay' as const, onConflict: () => new Error('conflict'), onBusy: () => new Error('busy') };
    await expect(claimedCall({ ...base, call: async () => { throw new Error('wechat down'); } })).rejects.toThrow('wechat down');
    expect(await store.get(k)).toBeUndefined();
    const ok = await claimedCall<ClaimedRecord & { v?: number }>({ ...base, call: async () => ({ v: 1 }) });
    expect(ok.record.v).toBe(1);
  });
});

describe('applyTransition against DynamoDB Local', () => {
  it('moves state forward once per event, refuses mismatches and unknown records', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const claim = await store.claim(k, 'fp', 30_000, { state: 'NOTPAY', amount_total: 100 });
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    await store.complete(k, claim.token, {});
    const request = { key: k, to: 'SUCCESS', from: ['NOTPAY'], eventId: 'EV-1', expect: { amount_total: 100 }, set: { transaction_id: 'T1' } };

    const outcomes = await Promise.all(Array.from({ length: 25 }, () => applyTransition(client, tableName, request)));
    expect(outcomes.filter((o) => o.kind === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'duplicate')).toHaveLength(24);

    expect((await applyTransition(client, tableName, { ...request, eventId: 'EV-2' })).kind).toBe('superseded');
    const mismatch = await applyTransition(client, tableName, { ...request, eventId: 'EV-3', expect: { amount_total: 1 } });
    expect(mismatch).toMatchObject({ kind: 'mismatch', fields: ['amount_total'] });
    expect((await applyTransition(client, tableName, { ...request, key: key() })).kind).toBe('unknown');
  });
});
