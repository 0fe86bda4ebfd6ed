import type { Item } from './items';
import type { RecordKey } from './keys';
import { ClaimLostError, type ClaimGuard, type ClaimStore, type ClaimedRecord, type Fingerprint, type StateAdvance } from './claims';

/**
 * The idempotent outbound call every product makes: claim the business key with a fingerprint of the request,
 * let exactly one worker call WeChat, and hand every duplicate the stored answer.
 */
export interface ClaimedCallOptions<T extends ClaimedRecord> {
  claims: ClaimStore;
  key: RecordKey;
  fingerprint: Fingerprint | string;
  /** Written with the claim: what identifies the record before WeChat has answered. */
  initial: Item;
  /** Conditions on other items checked in the claim's own write (see `ClaimGuard`). */
  guards?: readonly ClaimGuard[];
  /**
   * Calls WeChat; resolves to what the call produced, throws to give the key back. `how` the lease was got: a new
   * claim (its guards were written with it), a dead holder's claim taken over, a given-up record reclaimed by
   * another request (no guard was written for it), or a served record renewed.
   */
  call: (record: T | undefined, how: LeaseOrigin) => Promise<CallResult>;
  /** For the same request served before: answer from the record, or renew it with a fresh call. */
  onRepeat: (record: T) => 'replay' | 'renew';
  /** The key is held by a different request. */
  onConflict: (record: T) => Error;
  /** A record held by a different request that it gave up (nothing consumed at WeChat): this request may take it. */
  reclaimable?: (record: T) => boolean;
  leaseMs?: number;
  /** How long a duplicate waits for the worker that holds the lease before asking its caller to retry. */
  waitMs?: number;
  onBusy: () => Error;
}

/**
 * What one outbound call produced: its own fields, and the state it moves the record to. The state moves only
 * from the states named (see `ClaimStore.complete`): a record a notification moved on meanwhile keeps its state.
 */
export type LeaseOrigin = 'claimed' | 'taken-over' | 'reclaimed' | 'renewed';

export interface CallResult {
  fields: Item;
  advance: StateAdvance;
}

export interface ClaimedCallResult<T> {
  record: T;
  /** True when the answer is a stored one and WeChat was not called. */
  replayed: boolean;
}

const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_WAIT_MS = 10_000;

export async function claimedCall<T extends ClaimedRecord>(options: ClaimedCallOptions<T>): Promise<ClaimedCallResult<T>> {
  const { claims, key, fingerprint } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;

  for (let round = 0; round < 3; round += 1) {
    const outcome = await claims.claim<T>(key, fingerprint, leaseMs, options.initial, options.guards);
    switch (outcome.kind) {
      case 'claimed':
        return { record: await callUnderLease(options, outcome.token, outcome.record, outcome.record ? 'taken-over' : 'claimed'), replayed: false };
      case 'conflict': {
        if (!options.reclaimable?.(outcome.record)) throw options.onConflict(outcome.record);
        const token = await claims.reclaim(key, outcome.record, fingerprint, leaseMs, options.initial);
        // Another corrected request took it first: look again (it is theirs now, or free again).
        if (!token) continue;
        return { record: await callUnderLease(options, token, undefined, 'reclaimed'), replayed: false };
      }
      case 'in_progress':
        await claims.waitWhileLeased<T>(key, options.waitMs ?? DEFAULT_WAIT_MS);
        continue;
      case 'done': {
        if (options.onRepeat(outcome.record) === 'replay') return { record: outcome.record, replayed: true };
        const token = await claims.renew(key, outcome.record.fingerprint, leaseMs);
        if (!token) {
          await claims.waitWhileLeased<T>(key, options.waitMs ?? DEFAULT_WAIT_MS);
          continue;
        }
        return { record: await callUnderLease(options, token, outcome.record, 'renewed'), replayed: false };
      }
    }
  }
  throw options.onBusy();
}

async function callUnderLease<T extends ClaimedRecord>(options: ClaimedCallOptions<T>, token: string, previous: T | undefined, how: LeaseOrigin): Promise<T> {
  let result: CallResult;
  try {
    result = await options.call(previous, how);
  } catch (error) {
    await options.claims.release(options.key, token);
    throw error;
  }
  try {
    return await options.claims.complete<T>(options.key, token, result.fields, result.advance);
  } catch (error) {
    // Our lease ran out while WeChat answered and someone else took over: their stored answer wins.
    if (error instanceof ClaimLostError) {
      const record = await options.claims.waitWhileLeased<T>(options.key, options.waitMs ?? DEFAULT_WAIT_MS);
      if (record) return record;
    }
    throw error;
  }
}
