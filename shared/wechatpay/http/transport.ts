import { type CallTrace, type TransportFailureKind, WechatPayTransportError } from '../errors';

/*
 * Moving bytes to WeChat Pay and back: per-attempt timeouts, retries with backoff, failover to the
 * backup domain. Knows nothing about signatures; the clients pass a `prepare` callback that builds
 * each attempt's headers (a fresh Authorization per attempt) around body bytes fixed up front.
 */

export type FetchLike = (input: string | URL, init: RequestInit) => Promise<Response>;
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface BackoffOptions {
  /** First retry waits up to this long; each further retry doubles it. */
  baseMs?: number;
  /** Cap on a single wait. */
  maxMs?: number;
}

export interface AttemptEvent {
  attempt: number;
  baseUrl: string;
  /** Wall time of this attempt, from sending to the whole body read (or the failure). */
  durationMs: number;
  /** What the attempt produced: an HTTP status or a transport failure. */
  outcome: { status: number } | { failure: TransportFailureKind; code: string | undefined };
  /** Set when another attempt follows. */
  next?: { delayMs: number; baseUrl: string };
}

export interface TransportOptions {
  /** `[main, backup?]`, e.g. `['https://api.mch.weixin.qq.com', 'https://api2.mch.weixin.qq.com']`. */
  baseUrls: readonly string[];
  timeoutMs?: number;
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Defaults to the global fetch, which keeps connections alive across warm invocations. */
  fetch?: FetchLike;
  sleep?: Sleep;
  /** Source of jitter in [0, 1); injectable for deterministic tests. */
  random?: () => number;
  /** Observability hook, called after every attempt. Must not throw. */
  onAttempt?: (event: AttemptEvent) => void;
}

export interface OutgoingRequest {
  method: string;
  headers: Record<string, string>;
  /** The same bytes on every attempt. */
  body?: Uint8Array | undefined;
}

export interface RawResponse extends Required<CallTrace> {
  status: number;
  headers: Headers;
  /** The body bytes exactly as received. */
  body: Buffer;
  /** The URL of the attempt that produced this response. */
  url: string;
}

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_BASE_MS = 100;
export const DEFAULT_BACKOFF_MAX_MS = 1000;
/** An attempt with less time than this left is not started: it could only time out. */
export const MIN_ATTEMPT_MS = 150;

function transportError(kind: TransportFailureKind, message: string, cause: unknown, attempts: number, baseUrl: string): WechatPayTransportError {
  const error = new WechatPayTransportError(kind, message, cause === undefined ? undefined : { cause });
  error.attempts = attempts;
  error.baseUrl = baseUrl;
  return error;
}

export const defaultSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

type AttemptResult =
  | { ok: true; status: number; headers: Headers; body: Buffer }
  | { ok: false; kind: TransportFailureKind; code: string | undefined; error: unknown };

/** `ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_SOCKET`…: undici hides it in `cause`. */
function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

// A function, not an inline check: TypeScript would otherwise narrow `aborted` across awaits.
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function joinUrl(baseUrl: string, pathAndQuery: string): URL {
  return new URL(baseUrl.replace(/\/+$/, '') + pathAndQuery);
}

export class Transport {
  readonly baseUrls: readonly string[];
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly fetch: FetchLike;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly onAttempt: ((event: AttemptEvent) => void) | undefined;

  constructor(options: TransportOptions) {
    if (options.baseUrls.length === 0 || options.baseUrls.length > 2) {
      throw new TypeError('baseUrls must be [main] or [main, backup]');
    }
    for (const url of options.baseUrls) new URL(url); // fail fast on a typo, not on the first call
    this.baseUrls = [...options.baseUrls];
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS));
    this.backoffBaseMs = options.backoff?.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.backoffMaxMs = options.backoff?.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    // Resolved per call, not captured: test doubles may replace globalThis.fetch after construction.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.onAttempt = options.onAttempt;
  }

  /** "Full jitter": uniform in [0, min(max, base·2^(n−1))), which spreads out synchronized retries. */
  private backoffDelay(retryNumber: number): number {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (retryNumber - 1));
    return Math.floor(this.random() * ceiling);
  }

  /**
   * Sends until a non-5xx answer, or attempts (or the time budget) run out. Retries: timeouts, connection
   * failures and 5xx. Never 4xx (429 included: the caller decides when to come back). A connection failure or a
   * timeout moves the remaining attempts to the backup domain, as WeChat documents for data-centre outages (a
   * main domain that silently drops packets looks like a timeout, not a refused connection).
   *
   * `budgetMs` bounds the whole call, backoff included: each attempt waits at most what is left of it, and no
   * attempt starts with less than `MIN_ATTEMPT_MS` left. It is how a Lambda answers before it is killed.
   * Returns the last response (possibly a 5xx); throws `WechatPayTransportError` when none came.
   */
  async send(pathAndQuery: string, prepare: (url: URL) => OutgoingRequest, signal?: AbortSignal, budgetMs?: number): Promise<RawResponse> {
    const deadline = budgetMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + budgetMs;
    let baseIndex = 0;
    for (let attempt = 1; ; attempt++) {
      const baseUrl = this.baseUrls[baseIndex] as string;
      const url = joinUrl(baseUrl, pathAndQuery);
      const started = performance.now();
      const left = deadline - started;
      if (left < MIN_ATTEMPT_MS) {
        throw transportError('timeout', `no time left for WeChat Pay within the ${budgetMs}ms budget`, undefined, attempt - 1, baseUrl);
      }
      const timeoutMs = Math.min(this.timeoutMs, left);
      const result = await this.attemptOnce(url, prepare(url), signal, timeoutMs);
      const durationMs = performance.now() - started;

      let delayMs = this.backoffDelay(attempt);
      let nextIndex = baseIndex;
      if (!result.ok && baseIndex + 1 < this.baseUrls.length) {
        nextIndex = baseIndex + 1;
        // A different data centre needs no cool-down: go straight away.
        delayMs = 0;
      }
      const last = attempt >= this.maxAttempts || deadline - performance.now() - delayMs < MIN_ATTEMPT_MS;

      if (result.ok && (result.status < 500 || last)) {
        this.onAttempt?.({ attempt, baseUrl, durationMs, outcome: { status: result.status } });
        return { status: result.status, headers: result.headers, body: result.body, url: url.href, attempts: attempt, baseUrl };
      }
      if (!result.ok && last) {
        this.onAttempt?.({ attempt, baseUrl, durationMs, outcome: { failure: result.kind, code: result.code } });
        throw transportError(
          result.kind,
          result.kind === 'timeout'
            ? `no response within ${Math.round(timeoutMs)}ms (attempt ${attempt} of ${this.maxAttempts})`
            : `connection to ${baseUrl} failed${result.code === undefined ? '' : ` (${result.code})`} (attempt ${attempt} of ${this.maxAttempts})`,
          result.error,
          attempt,
          baseUrl,
        );
      }

      baseIndex = nextIndex;
      const nextBaseUrl = this.baseUrls[baseIndex] as string;
      this.onAttempt?.({
        attempt,
        baseUrl,
        durationMs,
        outcome: result.ok ? { status: result.status } : { failure: result.kind, code: result.code },
        next: { delayMs, baseUrl: nextBaseUrl },
      });
      if (delayMs > 0) await this.sleep(delayMs, signal);
      if (isAborted(signal)) throw signal?.reason;
    }
  }

  private async attemptOnce(url: URL, request: OutgoingRequest, signal: AbortSignal | undefined, timeoutMs: number): Promise<AttemptResult> {
    if (isAborted(signal)) throw signal?.reason;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`attempt exceeded ${Math.round(timeoutMs)}ms`, 'TimeoutError'));
    }, timeoutMs);
    const forwardAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', forwardAbort, { once: true });
    try {
      const response = await this.fetch(url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
        // A redirect would carry our Authorization somewhere unexpected; WeChat does not redirect.
        redirect: 'manual',
      });
      // The timeout also covers reading the body: a stalled body is as bad as no answer.
      const body = Buffer.from(await response.arrayBuffer());
      return { ok: true, status: response.status, headers: response.headers, body };
    } catch (error) {
      if (isAborted(signal)) throw signal?.reason;
      if (timedOut) return { ok: false, kind: 'timeout', code: 'TIMEOUT', error };
      return { ok: false, kind: 'connection', code: errorCode(error), error };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forwardAbort);
    }
  }
}
