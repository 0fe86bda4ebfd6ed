import * as v from 'valibot';

/**
 * Field building blocks shared by every product's request schema. WeChat counts lengths in characters and
 * refuses 4-byte UTF-8 characters (emoji) on APIv3, so both are checked here rather than discovered at WeChat.
 */
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;

export const charCount = (value: string): number => {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
};

export function text(max: number, min = 1) {
  return v.pipe(
    v.string('must be a string'),
    v.check((s) => charCount(s) >= min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`),
    v.check((s) => charCount(s) <= max, `must be at most ${max} characters`),
    v.check((s) => !ASTRAL.test(s), 'must not contain 4-byte characters such as emoji'),
  );
}

export function pattern(regex: RegExp, description: string) {
  return v.pipe(v.string('must be a string'), v.regex(regex, description));
}

/**
 * The largest amount we pass to WeChat, in fen: 2^31 - 1 (CNY 21,474,836.47). APIv2 documents `total_fee` as an
 * `int`, the largest amount type WeChat defines for these products; one bound for every amount field on every route
 * means an amount one route accepts is never refused by another (or, later, by WeChat for its size).
 */
export const MAX_FEN = 2_147_483_647;

/** Money is an integer number of fen, never a float. */
export function fen(options: { min?: number } = {}) {
  const min = options.min ?? 1;
  return v.pipe(
    v.number('must be an integer number of fen'),
    v.safeInteger('must be an integer number of fen'),
    v.minValue(min, min === 1 ? 'must be a positive number of fen' : `must be at least ${min} fen`),
    v.maxValue(MAX_FEN, `must be at most ${MAX_FEN} fen`),
  );
}

const FEN_DIGITS = /^[1-9][0-9]{0,15}$/;

/** The same, where WeChat wants the fen as a decimal string. */
export function fenString() {
  return v.pipe(
    v.string('must be a string of digits (fen)'),
    v.regex(FEN_DIGITS, 'must be a positive whole number of fen without leading zeros'),
    // Only well-formed digits are compared: a malformed value has its own problem already.
    v.check((s) => !FEN_DIGITS.test(s) || Number(s) <= MAX_FEN, `must be at most ${MAX_FEN} fen`),
  );
}

export function count(max = 1_000_000) {
  return v.pipe(v.number('must be an integer'), v.safeInteger('must be an integer'), v.minValue(1, 'must be at least 1'), v.maxValue(max, `must be at most ${max}`));
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function rfc3339() {
  return v.pipe(
    v.string('must be a string'),
    v.check(
      (s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)),
      'must be an RFC 3339 time with a zone, e.g. 2026-06-08T10:34:56+08:00',
    ),
  );
}

export function ipAddress() {
  return v.pipe(v.string('must be a string'), v.maxLength(45, 'must be at most 45 characters'), v.ip('must be an IPv4 or IPv6 address'));
}

export function ipv4Address() {
  return v.pipe(v.string('must be a string'), v.ipv4('must be an IPv4 address'));
}

export const bool = () => v.boolean('must be true or false');
