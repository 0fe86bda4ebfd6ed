/**
 * Delivers notifications (HTTP POST, 5 s timeout) and re-sends them on WeChat's schedule, scaled by
 * `timeScale`, until acknowledged or the schedule ends. Every attempt (and every concurrent copy) is logged.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Faults } from './faults';
import type { SandboxLogger } from './log';

/**
 * Re-send delays in seconds after the 1st, 2nd, … failed attempt.
 * APIv3 and APIv2 payment notifications (docs/wechatpay.md): 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h.
 */
export const PAYMENT_SCHEDULE: readonly number[] = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];
/** Credit repayment (schedule unpublished, docs/wechatpay.md readings): the sandbox uses the APIv3 payment schedule. */
export const CREDIT_REPAYMENT_SCHEDULE: readonly number[] = PAYMENT_SCHEDULE;
/** APIv2 contract (sign/terminate) notifications: 0/10/10/10/30/30/30 s, then 23 × 300 s. */
export const V2_CONTRACT_SCHEDULE: readonly number[] = [10, 10, 10, 30, 30, 30, ...Array<number>(23).fill(300)];

export interface OutgoingNotification {
  id: string;
  protocol: 'v3' | 'v2';
  /** v3 event_type, or `V2.PAYMENT`, `V2.CONTRACT.ADD`, `V2.CONTRACT.DELETE`. */
  event: string;
  target: string;
  schedule: readonly number[];
  body: Buffer;
  /** Fresh headers for every send (v3: new timestamp, nonce, signature). */
  headers(probe: boolean): Record<string, string>;
  acknowledged(status: number, body: string): boolean;
}

export interface DeliveryAttempt {
  /** Notification id: the v3 envelope `id`, or a sandbox id for v2. Same across attempts and copies. */
  id: string;
  seq: number;
  protocol: 'v3' | 'v2';
  target: string;
  event: string;
  /** 1 = first delivery, 2 = first re-send, … */
  attempt: number;
  /** 1…notifyCopies when the duplicate fault is on. */
  copy: number;
  /** HTTP status, or null on connection error / timeout. */
  status: number | null;
  ok: boolean;
  at: string;
  durationMs: number;
  probe?: boolean;
  error?: string;
  /** The last attempt of the schedule failed; nothing more will be sent. */
  final?: boolean;
}

type Waiter = { pred: (a: DeliveryAttempt) => boolean; resolve: (a: DeliveryAttempt) => void };

const REQUEST_TIMEOUT_MS = 5_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export class Notifier {
  private readonly attempts: DeliveryAttempt[] = [];
  /** Every notification handed to send(), delivered or dropped, by id: what `resend` sends again. */
  private readonly sent = new Map<string, OutgoingNotification>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<ClientRequest>();
  private waiters: Waiter[] = [];
  private seq = 0;
  private generation = 0;

  constructor(
    private readonly faults: Faults,
    private readonly timeScale: number,
    private readonly log: SandboxLogger,
  ) {}

  /** Sends a group: first attempts strictly one after the other (in the given order); re-sends independently. */
  send(group: OutgoingNotification[]): void {
    for (const n of group) this.sent.set(n.id, n);
    const gen = this.generation;
    void (async () => {
      const delay = this.faults.notifyDelayMs;
      if (delay > 0) await this.sleep(delay);
      for (const n of group) {
        if (gen !== this.generation) return;
        if (this.faults.takeNotifyDrop()) {
          this.log('notify.dropped', { id: n.id, event: n.event, target: n.target });
          continue;
        }
        await this.attempt(n, 1, gen);
      }
    })();
  }

  /** Sends an earlier notification again (same id and body, fresh signature), as WeChat's own retries do. */
  resend(id: string): boolean {
    const n = this.sent.get(id);
    if (!n) return false;
    const gen = this.generation;
    void this.attempt(n, 1, gen);
    return true;
  }

  list(): DeliveryAttempt[] {
    return this.attempts.map((a) => ({ ...a }));
  }

  /** Resolves with the first logged attempt (past or future) matching `pred`. */
  waitFor(pred: (a: DeliveryAttempt) => boolean, timeoutMs = 10_000): Promise<DeliveryAttempt> {
    const found = this.attempts.find(pred);
    if (found) return Promise.resolve({ ...found });
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching notification delivery within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Number of scheduled re-sends and in-flight requests. */
  pending(): number {
    return this.timers.size + this.inflight.size;
  }

  /** Cancels every pending re-send and in-flight request; keeps (or clears) the log. */
  cancelAll(clearLog = false): void {
    this.generation += 1;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.inflight) r.destroy(new Error('sandbox closed'));
    this.inflight.clear();
    if (clearLog) {
      this.attempts.length = 0;
      this.sent.clear();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async attempt(n: OutgoingNotification, attempt: number, gen: number): Promise<void> {
    const copies = this.faults.notifyCopies;
    const probe = n.protocol === 'v3' && this.faults.takeNotifySignTest();
    const results = await Promise.all(
      Array.from({ length: copies }, (_, i) => this.post(n, attempt, i + 1, probe, gen)),
    );
    if (gen !== this.generation) return;
    if (results.some((ok) => ok)) return;
    const delaySeconds = n.schedule[attempt - 1];
    if (delaySeconds === undefined) {
      const last = this.attempts.filter((a) => a.id === n.id).at(-1);
      if (last) {
        last.final = true;
        this.wake(last);
      }
      this.log('notify.gave_up', { id: n.id, event: n.event, target: n.target, attempts: attempt });
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.attempt(n, attempt + 1, gen);
    }, delaySeconds * 1000 * this.timeScale);
    this.timers.add(t);
  }

  private post(n: OutgoingNotification, attempt: number, copy: number, probe: boolean, gen: number): Promise<boolean> {
    const started = Date.now();
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const finish = (status: number | null, body: string, error?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.inflight.delete(req);
        if (gen !== this.generation) {
          resolve(false);
          return;
        }
        const ok = status !== null && n.acknowledged(status, body);
        this.record({
          id: n.id,
          seq: ++this.seq,
          protocol: n.protocol,
          target: n.target,
          event: n.event,
          attempt,
          copy,
          status,
          ok,
          at: new Date().toISOString(),
          durationMs: Date.now() - started,
          ...(probe ? { probe: true } : {}),
          ...(error ? { error } : {}),
        });
        resolve(ok);
      };
      let url: URL;
      try {
        url = new URL(n.target);
      } catch {
        // validated at order time; keep the type checker and a corrupted state honest
        resolve(false);
        return;
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const headers = { ...n.headers(probe), 'Content-Length': String(n.body.length) };
      const req = send(url, { method: 'POST', headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
        });
        res.on('end', () => finish(res.statusCode ?? null, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (err) => finish(null, '', err.message));
      });
      const deadline = setTimeout(() => {
        req.destroy(new Error(`timeout after ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      req.on('error', (err) => finish(null, '', err.message));
      this.inflight.add(req);
      req.end(n.body);
    });
  }

  private record(a: DeliveryAttempt): void {
    this.attempts.push(a);
    this.log('notify.attempt', {
      id: a.id,
      event: a.event,
      target: a.target,
      attempt: a.attempt,
      copy: a.copy,
      status: a.status,
      ok: a.ok,
      ...(a.probe ? { probe: true } : {}),
      ...(a.error ? { error: a.error } : {}),
    });
    this.wake(a);
  }

  private wake(a: DeliveryAttempt): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.pred(a)) w.resolve({ ...a });
      else still.push(w);
    }
    this.waiters = still;
  }
}
