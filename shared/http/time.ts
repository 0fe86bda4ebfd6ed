/**
 * The one time format of our API: RFC 3339 with WeChat's Beijing offset and whole seconds,
 * e.g. `2026-12-03T19:14:00+08:00`. Every timestamp a merchant route returns goes through here, whether it is our
 * own epoch milliseconds or one of WeChat's formats (APIv3 RFC 3339, APIv2 `yyyyMMddHHmmss`, and the zone-less
 * `yyyy-MM-dd HH:mm:ss` of v2 contract notifications; the v2 ones are Beijing time).
 */

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Epoch milliseconds as `yyyy-MM-ddTHH:mm:ss+08:00` (sub-second part dropped, i.e. rounded down). */
export function beijingTime(epochMs: number): string {
  const d = new Date(Math.floor(epochMs / 1000) * 1000 + BEIJING_OFFSET_MS);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}+08:00`
  );
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;
const SPACED = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** Epoch milliseconds of a time in any format WeChat sends, or undefined when it is not a real calendar time. */
export function parseWechatTime(value: string): number | undefined {
  const rfc = RFC3339.exec(value);
  if (rfc) {
    const [y, mo, d, h, mi, s] = rfc.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    const zone = rfc[8]!;
    if (!realCalendarTime(y, mo, d, h, mi, s)) return undefined;
    const offsetMin = /^[Zz]$/.test(zone) ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    const fraction = rfc[7] ? Math.floor(Number(`0${rfc[7]}`) * 1000) : 0;
    return Date.UTC(y, mo - 1, d, h, mi, s) - offsetMin * 60_000 + fraction;
  }
  const local = COMPACT.exec(value) ?? SPACED.exec(value);
  if (local) {
    const [y, mo, d, h, mi, s] = local.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    if (!realCalendarTime(y, mo, d, h, mi, s)) return undefined;
    return Date.UTC(y, mo - 1, d, h, mi, s) - BEIJING_OFFSET_MS;
  }
  return undefined;
}

/** One of WeChat's times in our format; undefined when absent or not a time (never a guess). */
export function wechatTime(value: string | undefined | null): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = parseWechatTime(value.trim());
  return ms === undefined ? undefined : beijingTime(ms);
}

function realCalendarTime(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (h > 23 || mi > 59 || s > 59) return false;
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}
