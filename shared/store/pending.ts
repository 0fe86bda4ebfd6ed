import type { Item } from './items';

/**
 * The sparse "pending" index: only records in a non-final state carry `pending_pk` (`PENDING#<product>`) and
 * `pending_at` (epoch ms when the recovery sweeper should look at it next). A record is written into the index
 * when it enters a non-final state and taken out (REMOVE) in the same write that makes it final, so finding what
 * is pending costs O(pending), never a table Scan (shared/recovery/sweeper.ts).
 *
 * Central write paths (ClaimStore.complete, applyTransition, changeRefund) take a `PendingMark` and know nothing
 * else: each product decides from its own state what the mark is.
 */
export const PENDING_INDEX = 'pending';
export const PENDING_PK = 'pending_pk';
export const PENDING_AT = 'pending_at';

/** `{ product, dueAt }`: pending (SET both attributes); `null`: final (REMOVE both); undefined: leave as is. */
export type PendingMark = { product: string; dueAt: number } | null;

export const pendingKey = (product: string): string => `PENDING#${product}`;

/** The attributes a pending record carries (e.g. in a claim's initial attributes). */
export function pendingAttributes(product: string, dueAt: number): Item {
  return { [PENDING_PK]: pendingKey(product), [PENDING_AT]: dueAt };
}

/** What a write does to the index for `mark`: attributes to SET and names to REMOVE. */
export function pendingUpdate(mark: PendingMark | undefined): { set: Item; remove: string[] } {
  if (mark === undefined) return { set: {}, remove: [] };
  if (mark === null) return { set: {}, remove: [PENDING_PK, PENDING_AT] };
  return { set: pendingAttributes(mark.product, mark.dueAt), remove: [] };
}
