/**
 * Sandbox time. `real()` is wall-clock time (used for the 300 s Authorization window and signature
 * timestamps); `now()` is business time = real + offset, used for every validity window (h5_url 5 min,
 * presign token 10 min, prepay 2 h, time_expire). `POST /sandbox/time` moves the offset so tests can
 * expire things without waiting and without breaking request signatures.
 */
export class Clock {
  private offsetMs = 0;

  constructor(private readonly base: () => number = Date.now) {}

  real(): number {
    return this.base();
  }

  now(): number {
    return this.base() + this.offsetMs;
  }

  advance(seconds: number): void {
    this.offsetMs += Math.round(seconds * 1000);
  }

  offsetSeconds(): number {
    return this.offsetMs / 1000;
  }

  reset(): void {
    this.offsetMs = 0;
  }
}

const BEIJING_MS = 8 * 3600 * 1000;

/**
 * How far to move a clock standing at `now` so that it reads the next `hour`:00 Beijing time: what tests and benches
 * advance business time by (here with `/sandbox/time`, in the stack with its clock offset) to stand inside papay's
 * 07:00-22:00 deduction window whatever the wall clock says.
 */
export function offsetToBeijingHour(now: number, hour = 10): number {
  const next = new Date(now);
  next.setUTCHours((hour + 16) % 24, 0, 0, 0);
  if (next.getTime() <= now) next.setUTCDate(next.getUTCDate() + 1);
  return next.getTime() - now;
}

function beijingParts(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000 + BEIJING_MS).toISOString(); // yyyy-mm-ddThh:mm:ss.000Z
}

/** RFC 3339 in +08:00, e.g. 2018-06-08T10:34:56+08:00. */
export function rfc3339(ms: number): string {
  return `${beijingParts(ms).slice(0, 19)}+08:00`;
}

/** APIv2 compact time yyyyMMddHHmmss (Beijing). */
export function v2Compact(ms: number): string {
  return beijingParts(ms).slice(0, 19).replace(/[-T:]/g, '');
}

/** APIv2 contract notification time `yyyy-MM-dd HH:mm:ss` (Beijing). */
export function v2DateTime(ms: number): string {
  return beijingParts(ms).slice(0, 19).replace('T', ' ');
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Parses a strict RFC 3339 date-time; returns epoch ms or undefined. */
export function parseRfc3339(value: string): number | undefined {
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map((x) => x ?? '');
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) {
    return undefined;
  }
  const probe = new Date(Date.UTC(Number(y), month - 1, day));
  if (probe.getUTCMonth() !== month - 1) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Parses APIv2 yyyyMMddHHmmss in Beijing time; returns epoch ms or undefined. */
export function parseV2Compact(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return undefined;
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`;
  return parseRfc3339(iso);
}
