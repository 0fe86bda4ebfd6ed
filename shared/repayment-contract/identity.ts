/**
 * The two rules about a person's identity that the service checks before anything is encrypted: the display-name
 * mask WeChat requires (seed 000) and the format of a mainland ID card number. Pure functions: nothing here logs,
 * stores or echoes the values it is given.
 */

/**
 * Seed 000 "掩码规则": keep the last character, replace every other character (symbols such as "." included) with
 * `*`; a name longer than 4 characters becomes `***` + its last character. Characters are Unicode code points.
 */
export function maskName(name: string): string {
  const chars = [...name];
  const last = chars.at(-1) ?? '';
  if (chars.length > 4) return `***${last}`;
  return `${'*'.repeat(Math.max(0, chars.length - 1))}${last}`;
}

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARS = '10X98765432';

/** The ISO 7064 MOD 11-2 check character of the first 17 digits of an 18-character ID card number. */
export function idCardCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += Number(first17[i]) * WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * A mainland resident ID card number: 18 characters (17 digits, a real birth date at 7-14, and the MOD 11-2 check
 * character, `X` for 10), or the first-generation 15 digits. Expects the normalised form (see `normalizeIdCard`).
 */
export function isValidIdCard(value: string): boolean {
  if (/^\d{15}$/.test(value)) return true;
  if (!/^\d{17}[\dX]$/.test(value)) return false;
  const year = Number(value.slice(6, 10));
  if (year < 1900 || !isCalendarDate(year, Number(value.slice(10, 12)), Number(value.slice(12, 14)))) return false;
  return idCardCheckChar(value.slice(0, 17)) === value[17];
}

/** The check character `x` is sent upper-case, so `…x` and `…X` are one request (one fingerprint, one body). */
export function normalizeIdCard(value: string): string {
  return value.toUpperCase();
}
