import * as v from 'valibot';
import { fenString, pattern, text } from '../validation/fields';
import { isValidIdCard, maskName, normalizeIdCard } from './identity';

/**
 * `POST /repayment-contracts` (and the body of a presign queue message): WeChat's H5 presign fields (seed 000)
 * minus the ones the service owns, with the real-name fields in plain text. Every message below is a fixed text:
 * none echoes a value, because rejections of queued requests are stored and every problem may be logged.
 */

/** Fields the service fills itself; a caller sending them is told so instead of being silently overridden. */
const ours = () => v.optional(v.never('is set by the service and must not be sent'));

/** "只能是数字、大小写字母的组合", at most 64 (seed 000). */
export const OUT_CONTRACT_CODE = /^[0-9A-Za-z]{1,64}$/;
export const OUT_CONTRACT_CODE_RULE = 'must be 1-64 characters of 0-9 A-Z a-z';
/** "只能是数字、大小写字母" (seed 000); 32 is the usual WeChat out_trade_no length. */
export const TRADE_OUT_TRADE_NO = /^[0-9A-Za-z]{1,32}$/;

export const ID_CARD = 'REAL_IDENTITY_TYPE_ID_CARD';
const ID_CARD_RULE =
  'must be an ID card number: 18 characters (17 digits with a valid birth date, then the check digit or X), or 15 digits';
const MASK_RULE =
  'must be the mask of real_identity.real_name: its last character, every other character replaced by *, and *** plus the last character for names longer than 4 characters (or leave display_name out)';

// Control characters and line breaks have no place in a name (and would make the mask meaningless).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

const realName = () =>
  v.pipe(
    text(64),
    v.check((s) => s.trim() === s, 'must not start or end with whitespace'),
    v.check((s) => !CONTROL.test(s), 'must not contain control characters'),
  );

const idNumber = () =>
  v.pipe(v.string('must be a string'), v.transform(normalizeIdCard), v.check(isValidIdCard, ID_CARD_RULE));

/**
 * valibot reports a missing key, an unknown key and a wrong type through the object's one message, and its default
 * wrong-type text quotes the value received: this gives each case its own fixed text.
 */
function objectMessage(what: string): (issue: v.BaseIssue<unknown>) => string {
  return (issue) => {
    if (issue.expected === 'never') return 'is not a known field';
    if (issue.received === 'undefined' && issue.expected?.startsWith('"')) return 'is required';
    return `must be ${what}`;
  };
}

const realIdentity = v.strictObject(
  {
    identity_type: v.picklist([ID_CARD], `must be ${ID_CARD} (the only identity type WeChat Pay accepts)`),
    identity_id: idNumber(),
    real_name: realName(),
  },
  objectMessage('an object with identity_type, identity_id and real_name (plain text; the service encrypts them)'),
);

const tradeInfo = v.strictObject(
  {
    out_trade_no: pattern(TRADE_OUT_TRADE_NO, 'must be 1-32 characters of 0-9 A-Z a-z'),
    deduct_amount: fenString(),
    description: v.optional(text(127)),
    attach: v.optional(text(128)),
    notify_url: ours(),
  },
  objectMessage('an object with out_trade_no and deduct_amount'),
);

const jumpInfo = v.strictObject({ jump_appid: v.optional(text(32)) }, objectMessage('an object with jump_appid'));

const repaymentDay = () =>
  v.pipe(
    v.number('must be an integer day of the month'),
    v.integer('must be an integer day of the month'),
    v.minValue(1, 'must be between 1 and 31'),
    v.maxValue(31, 'must be between 1 and 31'),
  );

const FEN = /^[1-9][0-9]{0,15}$/;
// Compared only when both are well-formed: a malformed one has its own problem already.
const fenAtMost = (amount: unknown, limit: unknown): boolean =>
  typeof amount !== 'string' || typeof limit !== 'string' || !FEN.test(amount) || !FEN.test(limit) || BigInt(amount) <= BigInt(limit);

export const createRepaymentContractSchema = v.pipe(
  v.strictObject(
    {
      appid: v.optional(text(32)),
      plan_id: text(64),
      out_contract_code: pattern(OUT_CONTRACT_CODE, OUT_CONTRACT_CODE_RULE),
      display_name: v.optional(text(64)),
      contract_notify_url: ours(),
      repayment_day: v.optional(repaymentDay()),
      repayment_amount_limit: fenString(),
      sub_mchid: v.optional(pattern(/^\d{1,32}$/, 'must be 1-32 digits')),
      sub_appid: v.optional(text(32)),
      real_identity: realIdentity,
      trade_info: v.optional(tradeInfo),
      jump_info: v.optional(jumpInfo),
    },
    objectMessage('a JSON object'),
  ),
  v.forward(
    v.partialCheck(
      [['display_name'], ['real_identity', 'real_name']],
      (input) => {
        // valibot may run this even when real_name itself is invalid (that has its own problem): check only a string.
        const name: unknown = (input.real_identity as { real_name?: unknown } | undefined)?.real_name;
        return input.display_name === undefined || typeof name !== 'string' || input.display_name === maskName(name);
      },
      MASK_RULE,
    ),
    ['display_name'],
  ),
  v.forward(
    v.partialCheck(
      [['sub_mchid'], ['sub_appid']],
      (input) => input.sub_appid === undefined || input.sub_mchid !== undefined,
      'requires sub_mchid',
    ),
    ['sub_appid'],
  ),
  v.forward(
    v.partialCheck(
      [['repayment_amount_limit'], ['trade_info', 'deduct_amount']],
      (input) => fenAtMost((input.trade_info as { deduct_amount?: unknown } | undefined)?.deduct_amount, input.repayment_amount_limit),
      'must not exceed repayment_amount_limit',
    ),
    ['trade_info', 'deduct_amount'],
  ),
);

export type CreateRepaymentContractInput = v.InferOutput<typeof createRepaymentContractSchema>;

/** `POST /repayment-contracts/{out_contract_code}/terminate`: WeChat's `contract_termination_remark` (≤ 128). */
export const terminateRepaymentContractSchema = v.strictObject({
  remark: text(128),
});

const RECORD_ID = /^[0-9A-Za-z]{1,32}$/;

/** `POST /repayment-contracts/{out_contract_code}/schedules`: one schedule item (WeChat takes one per call). */
export const createScheduleSchema = v.strictObject({
  out_record_id: pattern(RECORD_ID, 'must be 1-32 characters of 0-9 A-Z a-z'),
  repayment_amount: fenString(),
  min_repayment_amount: v.optional(fenString()),
  repayment_date: pattern(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD (Beijing)'),
  sub_mchid: v.optional(pattern(/^\d{1,32}$/, 'must be 1-32 digits')),
});
export type CreateScheduleInput = v.InferOutput<typeof createScheduleSchema>;

/** `POST /repayment-contracts/{out_contract_code}/repayments`: a repayment of a scheduled record (deduct-orders). */
export const createRepaymentSchema = v.strictObject({
  out_trade_no: pattern(TRADE_OUT_TRADE_NO, 'must be 1-32 characters of 0-9 A-Z a-z'),
  out_record_id: pattern(RECORD_ID, 'must be 1-32 characters of 0-9 A-Z a-z'),
  deduct_amount: fenString(),
  description: text(127),
  attach: v.optional(text(128)),
  notify_url: v.optional(v.never('is set by the service and must not be sent')),
});
export type CreateRepaymentInput = v.InferOutput<typeof createRepaymentSchema>;
