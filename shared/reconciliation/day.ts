import { parseWechatTime } from '../http/time';

const BEIJING_MS = 8 * 3600 * 1000;

/** `YYYY-MM-DD` in Beijing time, the day WeChat's bills are cut by. */
export function beijingDay(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 10);
}

/**
 * The Beijing day a payment or refund settled on, from WeChat's own time of it (v3 RFC 3339, v2 yyyyMMddHHmmss or
 * `yyyy-MM-dd HH:mm:ss` Beijing): the bill lists it under that day. `fallbackMs` when WeChat gave none. Written as
 * `settled_day` in the transition that records the settlement, which puts the record in the sparse `by_settled_day`
 * index the daily reconciliation reads.
 */
export function settledDay(wechatTime: string | undefined, fallbackMs: number): string {
  const ms = wechatTime ? parseWechatTime(wechatTime.trim()) : undefined;
  return beijingDay(ms ?? fallbackMs);
}
