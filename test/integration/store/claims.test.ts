import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { toAttributes } from '../../../shared/store/items';
import { ClaimLostError, ClaimStore, type ClaimGuard, type ClaimedRecord } from '../../../shared/store/claims';
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

  it('a guarded claim is written with its guards in one transaction: a failed guard writes nothing and names itself', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const contract = key();
    const signed: ClaimGuard = {
      key: contract,
      condition: '#state = :signed',
      names: { '#state': 'state' },
      values: { ':signed': 'SIGNED' },
      refusal: (item) => new Error(item ? `contract is ${String(item['state'])}` : 'no contract'),
    };
    await expect(store.claim(k, 'fp', 30_000, {}, [signed])).rejects.toThrow('no contract');
    await client.send(new PutItemCommand({ TableName: tableName, Item: toAttributes({ ...contract, state: 'TERMINATED' }) }));
    await expect(store.claim(k, 'fp', 30_000, {}, [signed])).rejects.toThrow('contract is TERMINATED');
    expect(await store.get(k)).toBeUndefined();
    await client.send(new PutItemCommand({ TableName: tableName, Item: toAttributes({ ...contract, state: 'SIGNED' }) }));
    const first = await store.claim(k, 'fp', 30_000, { answer: 1 }, [signed]);
    expect(first.kind).toBe('claimed');
    if (first.kind !== 'claimed') throw new Error('unreachable');
    await store.complete(k, first.token, {});
    // A request served before gets its stored answer even though the guard no longer holds.
    await client.send(new PutItemCommand({ TableName: tableName, Item: toAttributes({ ...contract, state: 'TERMINATED' }) }));
    const again = await store.claim<ClaimedRecord & { answer: number }>(k, 'fp', 30_000, { answer: 1 }, [signed]);
    expect(again.kind).toBe('done');
    expect((await store.claim(k, 'other', 30_000, {}, [signed])).kind).toBe('conflict');
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
          initial: { state: 'CREATING' },
          call: async () => {
            calls += 1;
            await new Promise((r) => setTimeout(r, 200));
            return { fields: { answer: 'from-wechat' }, advance: { to: 'NOTPAY', from: ['CREATING'] } };
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
    const ok = await claimedCall<ClaimedRecord & { v?: number }>({ ...base, call: async () => ({ fields: { v: 1 }, advance: { to: 'NOTPAY', from: ['CREATING'] } }) });
    expect(ok.record.v).toBe(1);
  });
});

describe('completing an outbound call (ClaimStore.complete)', () => {
  it('never moves state backward: a notification that landed during the call keeps its state', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const claim = await store.claim(k, 'fp', 30_000, { state: 'CREATING', amount_total: 100 });
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    // WeChat's payment notification is applied while our call is still waiting for WeChat's answer.
    const paid = await applyTransition(client, tableName, { key: k, to: 'SUCCESS', from: ['CREATING', 'NOTPAY'], eventId: 'EV-PAID' });
    expect(paid.kind).toBe('applied');
    const done = await store.complete<ClaimedRecord & { state: string; link?: string }>(k, claim.token, { link: 'L' }, { to: 'NOTPAY', from: ['CREATING', 'NOTPAY'] });
    expect(done.state).toBe('SUCCESS');
    expect(done.claim_status).toBe('DONE');
    expect((await store.get<{ state: string }>(k))?.state).toBe('SUCCESS');
  });

  it('moves state when the record is still where the call found it', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const claim = await store.claim(k, 'fp', 30_000, { state: 'CREATING' });
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    const done = await store.complete<ClaimedRecord & { state: string }>(k, claim.token, {}, { to: 'NOTPAY', from: ['CREATING'] });
    expect(done.state).toBe('NOTPAY');
  });

  it('refuses to write state outside an advance', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const claim = await store.claim(k, 'fp', 30_000, { state: 'CREATING' });
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    await expect(store.complete(k, claim.token, { state: 'NOTPAY' })).rejects.toThrow(TypeError);
  });

  it('a worker that lost its lease mid-call stores nothing: the new holder\'s answer stands', async () => {
    let now = 1_000_000;
    const store = new ClaimStore({ client, tableName, now: () => now });
    const k = key();
    const slow = await store.claim(k, 'fp', 1_000, { state: 'CREATING' });
    if (slow.kind !== 'claimed') throw new Error('unreachable');
    now += 5_000; // the slow worker's lease runs out while WeChat keeps it waiting
    const fresh = await store.claim(k, 'fp', 30_000, { state: 'CREATING' });
    expect(fresh.kind).toBe('claimed');
    if (fresh.kind !== 'claimed') throw new Error('unreachable');
    await store.complete(k, fresh.token, { link: 'new' }, { to: 'NOTPAY', from: ['CREATING'] });
    await expect(store.complete(k, slow.token, { link: 'old' }, { to: 'NOTPAY', from: ['CREATING', 'NOTPAY'] })).rejects.toThrow(ClaimLostError);
    await expect(store.complete(k, slow.token, { link: 'old' })).rejects.toThrow(ClaimLostError);
    expect((await store.get<{ link: string }>(k))?.link).toBe('new');
  });

  it('only one of two workers that saw the same dead lease takes it over', async () => {
    let now = 1_000_000;
    const store = new ClaimStore({ client, tableName, now: () => now });
    const k = key();
    expect((await store.claim(k, 'fp', 1_000)).kind).toBe('claimed');
    now += 5_000;
    const both = await Promise.all(Array.from({ length: 8 }, () => store.claim(k, 'fp', 30_000)));
    expect(both.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect(both.filter((o) => o.kind === 'in_progress')).toHaveLength(7);
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

describe('applyTransition: one event id changes a record once', () => {
  it('a redelivered event is a duplicate even where the state may repeat (late facts onto TERMINATED)', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const claim = await store.claim(k, 'fp', 30_000, { state: 'CREATING' });
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    await store.complete(k, claim.token, {}, { to: 'TERMINATED', from: ['CREATING'] });
    const late = (signedAt: string) =>
      applyTransition(client, tableName, { key: k, to: 'TERMINATED', from: ['TERMINATED'], eventId: 'evt-1', set: { signed_at: signedAt } });
    expect((await late('2026-01-01 10:00:00')).kind).toBe('applied');
    const again = await late('2099-12-31 23:59:59');
    expect(again.kind).toBe('duplicate');
    expect((await store.get<ClaimedRecord & { signed_at: string }>(k))?.signed_at).toBe('2026-01-01 10:00:00');
    // A different event id still applies.
    expect((await applyTransition(client, tableName, { key: k, to: 'TERMINATED', from: ['TERMINATED'], eventId: 'evt-2' })).kind).toBe('applied');
  });
});

describe('ClaimStore.reclaim: a given-up key goes to one new request', () => {
  it('of two requests reclaiming the same refused record, exactly one gets it; a changed record is not reclaimed', async () => {
    const store = new ClaimStore({ client, tableName });
    const k = key();
    const first = await store.claim(k, 'fp-refused', 30_000, { state: 'CREATING' });
    if (first.kind !== 'claimed') throw new Error('unreachable');
    const seen = await store.complete(k, first.token, { reusable: true }, { to: 'REJECTED', from: ['CREATING'] });
    const tokens = await Promise.all([store.reclaim(k, seen, 'fp-a', 30_000), store.reclaim(k, seen, 'fp-b', 30_000)]);
    expect(tokens.filter(Boolean)).toHaveLength(1);
    const now = await store.get<ClaimedRecord>(k);
    expect(['fp-a', 'fp-b']).toContain(now?.fingerprint);
    expect(now?.claim_status).toBe('PENDING');

    // A record that moved on since it was read (another update) is not replaced.
    const other = key();
    const c = await store.claim(other, 'fp-x', 30_000, { state: 'CREATING' });
    if (c.kind !== 'claimed') throw new Error('unreachable');
    const stale = await store.complete(other, c.token, {}, { to: 'REJECTED', from: ['CREATING'] });
    await store.touch(other, { note: 'a notification arrived', updated_at: stale.updated_at + 1 });
    expect(await store.reclaim(other, stale, 'fp-y', 30_000)).toBeUndefined();
  });
});
