/** Identifiers the sandbox mints, shaped like WeChat's. */
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { v2Compact } from './clock';

function digits(n: number): string {
  let out = '';
  for (let i = 0; i < n; i += 1) out += String(randomInt(10));
  return out;
}

/** `wx` + yyyyMMddHHmmss + 20 hex/digits, like `wx201410272009395522657a690389285100` (36 chars). */
export function prepayId(nowMs: number): string {
  return `wx${v2Compact(nowMs)}${randomBytes(10).toString('hex')}`;
}

/** 28-digit WeChat transaction id, `4200…`. */
export function transactionId(): string {
  return `4200${digits(24)}`;
}

/** Credit-repayment contract id (digits). */
export function repaymentContractId(nowMs: number): string {
  return `${v2Compact(nowMs).slice(0, 8)}${digits(15)}`;
}

/** v2 papay contract id, like `Wx15463511252015071056489715`. */
export function papContractId(nowMs: number): string {
  return `Wx${digits(10)}${v2Compact(nowMs).slice(0, 8)}${digits(8)}`;
}

/** Stable 28-character openid per (appid, seed). */
export function openidFor(appid: string, seed: string): string {
  const h = createHash('sha256').update(`${appid}|${seed}`).digest('base64url');
  return `o${h.slice(0, 27)}`;
}

/** Page token (URL-safe). */
export function pageToken(): string {
  return randomBytes(18).toString('base64url');
}

export function notificationId(): string {
  return randomUUID();
}

/** Request-ID header value. */
export function requestId(): string {
  return `08${randomBytes(14).toString('hex').toUpperCase()}`;
}

export function codeUrl(): string {
  return `weixin://wxpay/s/${randomBytes(6).toString('base64url')}`;
}
