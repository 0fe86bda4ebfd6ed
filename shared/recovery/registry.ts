import type { Runtime } from '../runtime/container';
import type { Item } from '../store/items';

/**
 * What a product tells the recovery sweeper (shared/recovery/sweeper.ts): which records are its own (the
 * `PENDING#<product>` partition of the pending index), how to settle one, and when to look again. The sweeper
 * knows nothing else about any product; each product's query and apply are its own code, the same the GET
 * fallback and the notification use.
 */
export interface Recoverer {
  /** The pending index partition: `PENDING#<product>` (shared/store/pending.ts). */
  product: string;
  /**
   * One look at a pending record: ask WeChat through the product's own query and apply the answer through the
   * notification's own transition (so a racing notification changes state once). `settled`: the record left the
   * index; `pending`: WeChat has nothing final yet; `failed`: no usable answer (counted, looked at again later).
   * `limited` stops this product's work for the run (WeChat answered FREQUENCY_LIMITED).
   */
  recover(rt: Runtime, record: Item): Promise<RecoveryResult>;
  /**
   * From when (epoch ms) a record still pending counts as overdue for the still-pending alarm (plus the alarm age):
   * an unpaid order is legitimately pending until it expires, a bank-card refund for days. Default: `created_at`.
   */
  overdueSince?(record: Item): number;
  /** When to look again (epoch ms) after a look that settled nothing; `tries` counts looks so far (≥ 1). */
  nextLookAt(rt: Runtime, record: Item, tries: number): number;
}

export type RecoveryResult = 'settled' | 'pending' | 'failed' | 'limited';

/** Exponential backoff from `firstMs`, capped at `maxMs`: the refund query guidance (1 min, then 5, 10, 20, 30…). */
export function backoff(now: number, tries: number, firstMs: number, maxMs: number): number {
  return now + Math.min(maxMs, firstMs * 2 ** Math.max(0, tries - 1));
}
