import * as v from 'valibot';
import { fen, ipv4Address, pattern, text } from '../validation/fields';

/**
 * `POST /contract-orders`: the fields of WeChat's APIv2 `POST /pay/contractorder` (支付中签约, seed 002) minus the
 * ones the service owns. Lengths are the seed's `string[min,max]`, counted in characters.
 */

/** Fields the service fills itself; a caller sending them is told so instead of being silently overridden. */
const ours = () => v.optional(v.never('is set by the service and must not be sent'));

export const TRADE_TYPES = ['JSAPI', 'NATIVE', 'APP', 'MWEB'] as const;
export type TradeType = (typeof TRADE_TYPES)[number];

/** The v2 merchant order number: up to 32 characters of digits, letters and `_ - | *`. */
export const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{1,32}$/;
/** "只能是数字、大小写字母" (seed 002). */
export const CONTRACT_CODE = /^[0-9A-Za-z]{1,64}$/;

const INT64_MAX = 9223372036854775807n;
const SERIAL_DIGITS = /^[1-9][0-9]{0,18}$/;

/** yyyyMMddHHmmss that names a real calendar time (WeChat's v2 time format, Beijing time). */
export function isCompactTime(value: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second
  );
}

const compactTime = () =>
  v.pipe(v.string('must be a string'), v.check(isCompactTime, 'must be a time as yyyyMMddHHmmss, e.g. 20091225091010'));

/** A positive int64 without a leading 0, as a JSON integer or (beyond 2^53) a string of digits; normalised to text. */
const REQUEST_SERIAL_RULE = 'must be a positive 64-bit integer without a leading 0 (a JSON integer, or a string of digits above 2^53)';
const requestSerial = () =>
  v.union(
    [
      v.pipe(
        v.number(REQUEST_SERIAL_RULE),
        v.safeInteger(`${REQUEST_SERIAL_RULE}; above 2^53 send it as a string`),
        v.minValue(1, REQUEST_SERIAL_RULE),
        v.transform(String),
      ),
      v.pipe(
        v.string(REQUEST_SERIAL_RULE),
        v.regex(SERIAL_DIGITS, REQUEST_SERIAL_RULE),
        // valibot runs every action even after one failed: only well-formed digits reach BigInt.
        v.check((s) => !SERIAL_DIGITS.test(s) || BigInt(s) <= INT64_MAX, 'must be at most 9223372036854775807'),
      ),
    ],
    REQUEST_SERIAL_RULE,
  );

const planId = () =>
  v.pipe(
    v.number('must be an integer'),
    v.safeInteger('must be an integer'),
    v.minValue(1, 'must be a positive integer'),
    // The seed types plan_id as `int`.
    v.maxValue(2_147_483_647, 'must be at most 2147483647'),
  );

const MISSING = 'is required when trade_type is ';

export const createContractOrderSchema = v.pipe(
  v.objectWithRest({
    // Owned by the service: the merchant's identity, the signature and our own notify routes.
    appid: ours(),
    mch_id: ours(),
    contract_mchid: ours(),
    contract_appid: ours(),
    nonce_str: ours(),
    sign: ours(),
    sign_type: ours(),
    notify_url: ours(),
    contract_notify_url: ours(),

    out_trade_no: pattern(OUT_TRADE_NO, 'must be 1-32 characters of 0-9 A-Z a-z _ - | *'),
    device_info: v.optional(text(32)),
    body: text(127),
    detail: v.optional(text(8192)),
    attach: v.optional(text(127)),
    total_fee: fen(),
    spbill_create_ip: v.pipe(ipv4Address(), v.maxLength(16, 'must be at most 16 characters')),
    time_start: v.optional(compactTime()),
    time_expire: v.optional(compactTime()),
    goods_tag: v.optional(text(32)),
    trade_type: v.picklist(TRADE_TYPES, `must be one of ${TRADE_TYPES.join(', ')}`),
    product_id: v.optional(text(32)),
    limit_pay: v.optional(v.literal('no_credit', 'must be no_credit')),
    openid: v.optional(text(128)),
    plan_id: planId(),
    contract_code: pattern(CONTRACT_CODE, 'must be 1-64 digits or letters'),
    request_serial: requestSerial(),
    contract_display_account: text(64),
  },
  v.never('is not a field of a contract order'),
  // The object's message is also that of a missing key, which is not "must be a JSON object".
  (issue) => (issue.received === 'undefined' && issue.expected?.startsWith('"') ? 'is required' : 'must be a JSON object')),
  v.forward(
    v.partialCheck([['trade_type'], ['openid']], (i) => i.trade_type !== 'JSAPI' || i.openid !== undefined, `${MISSING}JSAPI`),
    ['openid'],
  ),
  v.forward(
    v.partialCheck(
      [['trade_type'], ['product_id']],
      (i) => i.trade_type !== 'NATIVE' || i.product_id !== undefined,
      `${MISSING}NATIVE`,
    ),
    ['product_id'],
  ),
  v.forward(
    v.partialCheck(
      [['time_start'], ['time_expire']],
      (i) => i.time_start === undefined || i.time_expire === undefined || i.time_expire > i.time_start,
      'must be later than time_start',
    ),
    ['time_expire'],
  ),
);

export type CreateContractOrderInput = v.InferOutput<typeof createContractOrderSchema>;
