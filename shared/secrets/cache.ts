import { SecretsError } from './errors';
import type { MerchantSecret, SecretsLoader } from './types';

export const DEFAULT_MAX_AGE_MS = 5 * 60_000;
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 30_000;

/** What a loader reports; messages are value-free (safe to log). */
export type SecretsLoaderEvent =
  | { type: 'loaded'; secretId: string; forced: boolean; ms: number }
  | { type: 'refresh_throttled'; secretId: string; retryInMs: number }
  | { type: 'stale_served'; secretId: string; error: string };

export interface CacheOptions {
  /** How long a loaded secret is served from memory. Default 5 min. */
  maxAgeMs?: number;
  /** `refresh()` reloads at most once per this interval per secret id. Default 30 s. */
  minRefreshIntervalMs?: number;
  /**
   * When a reload fails but an older copy is in memory, serve that copy (and retry after
   * `minRefreshIntervalMs`) instead of failing the request. Default true.
   */
  staleIfError?: boolean;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
  /** Observability hook (loads, throttled refreshes, stale fallbacks). */
  onEvent?: (event: SecretsLoaderEvent) => void;
}

interface Entry {
  value?: MerchantSecret;
  expiresAt: number;
  inflight?: Promise<MerchantSecret>;
  lastForcedAt?: number;
}

function checkDuration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new SecretsError('config', `${name} must be a finite number of milliseconds >= 0`);
  }
  return value;
}

/**
 * The per-container cache both loaders share: max age, one in-flight load per secret id shared by every
 * concurrent caller, and rate-limited forced refreshes. Subclasses only fetch and validate.
 */
export abstract class CachedSecretsLoader implements SecretsLoader {
  readonly #entries = new Map<string, Entry>();
  readonly #maxAgeMs: number;
  readonly #minRefreshIntervalMs: number;
  readonly #staleIfError: boolean;
  readonly #now: () => number;
  readonly #onEvent: (event: SecretsLoaderEvent) => void;

  constructor(options: CacheOptions = {}) {
    this.#maxAgeMs = checkDuration('maxAgeMs', options.maxAgeMs, DEFAULT_MAX_AGE_MS);
    this.#minRefreshIntervalMs = checkDuration(
      'minRefreshIntervalMs',
      options.minRefreshIntervalMs,
      DEFAULT_MIN_REFRESH_INTERVAL_MS,
    );
    this.#staleIfError = options.staleIfError ?? true;
    this.#now = options.now ?? Date.now;
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /** Loads and validates one secret from the source, bypassing the cache. */
  protected abstract fetchSecret(secretId: string): Promise<MerchantSecret>;

  get(secretId: string): Promise<MerchantSecret> {
    const entry = this.#entry(secretId);
    if (entry.value !== undefined && this.#now() < entry.expiresAt) return Promise.resolve(entry.value);
    return entry.inflight ?? this.#load(secretId, entry, false);
  }

  refresh(secretId: string): Promise<MerchantSecret> {
    const entry = this.#entry(secretId);
    // A load already under way is as fresh as a forced one.
    if (entry.inflight) return entry.inflight;
    const now = this.#now();
    if (entry.lastForcedAt !== undefined && now - entry.lastForcedAt < this.#minRefreshIntervalMs) {
      this.#onEvent({
        type: 'refresh_throttled',
        secretId,
        retryInMs: entry.lastForcedAt + this.#minRefreshIntervalMs - now,
      });
      return entry.value !== undefined ? Promise.resolve(entry.value) : this.get(secretId);
    }
    entry.lastForcedAt = now;
    return this.#load(secretId, entry, true);
  }

  /** Forgets every cached secret (tests; a rotated secret on a warm container). */
  clear(): void {
    this.#entries.clear();
  }

  #entry(secretId: string): Entry {
    if (typeof secretId !== 'string' || secretId === '') {
      throw new SecretsError('config', 'a secret id (non-empty string) is required');
    }
    let entry = this.#entries.get(secretId);
    if (!entry) {
      entry = { expiresAt: 0 };
      this.#entries.set(secretId, entry);
    }
    return entry;
  }

  #load(secretId: string, entry: Entry, forced: boolean): Promise<MerchantSecret> {
    const started = this.#now();
    // Assigned before the body's first await resumes; the finally below clears it before callers resume.
    let promise!: Promise<MerchantSecret>;
    promise = (async () => {
      try {
        const value = await this.fetchSecret(secretId);
        entry.value = value;
        entry.expiresAt = this.#now() + this.#maxAgeMs;
        this.#onEvent({ type: 'loaded', secretId, forced, ms: this.#now() - started });
        return value;
      } catch (error) {
        if (this.#staleIfError && entry.value !== undefined) {
          entry.expiresAt = this.#now() + Math.min(this.#minRefreshIntervalMs, this.#maxAgeMs);
          this.#onEvent({
            type: 'stale_served',
            secretId,
            error: error instanceof SecretsError ? error.message : 'unexpected error',
          });
          return entry.value;
        }
        throw error;
      } finally {
        if (entry.inflight === promise) delete entry.inflight;
      }
    })();
    entry.inflight = promise;
    return promise;
  }
}
