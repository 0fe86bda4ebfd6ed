import { ServiceError } from '../http/errors';
import { isTransient } from '../merchant/failures';
import {
  MalformedResponseError,
  WechatPayApiError,
  WechatPayV2ReturnError,
} from '../wechatpay';
import type { WechatRefusal } from './record';
import type { TradeType } from './schema';

/**
 * What one `/pay/contractorder` call came to, and what WeChat consumed by it. That decides which of our two keys
 * (out_trade_no, contract_code) stays bound to the request and which is given back:
 *
 * | outcome | out_trade_no | contract_code |
 * |---|---|---|
 * | `ok` (prepay_id) | consumed | consumed (pre-signed) |
 * | `unknown` (timeout, 5xx, SYSTEMERROR, unverifiable or incomplete answer) | kept for the identical request | kept for the identical request |
 * | `return_code=FAIL` (communication level: sign, XML) | nothing consumed | nothing consumed |
 * | `result_code=FAIL` `CONTRACT_CODE DUPLICATION` | not consumed | consumed (already used at WeChat) |
 * | `result_code=FAIL` `INVALID_REQUEST` "201 商户订单号重复", `ORDERPAID`, `ORDERCLOSED`, `OUT_TRADE_NO_USED` | consumed (exists at WeChat) | not consumed |
 * | `result_code=FAIL`, any other code (`PARAMETER FAIL`, `INVALID PLAN_ID`, permission, …) | nothing consumed | nothing consumed |
 * | `result_code=SUCCESS` but `contract_result_code=FAIL` | consumed (the order exists) | consumed (conservatively: never reused) |
 *
 * When an earlier attempt of the same request ended `unknown`, that attempt may have consumed both, so any later
 * refusal keeps both bound (the refusal may well be WeChat recognising our own first call).
 */
export type CallOutcome =
  /**
   * `contractRefusal`: WeChat made the order but refused the contract (`result_code SUCCESS`, `contract_result_code
   * FAIL`): the payer can pay, nothing is signed, and the contract cannot be charged (papay checklist #21).
   */
  | { kind: 'ok'; prepayId: string; codeUrl?: string; mwebUrl?: string; contractRefusal?: WechatRefusal }
  | { kind: 'unknown'; reason: string }
  | { kind: 'refused'; refusal: WechatRefusal; consumes: { order: boolean; code: boolean } }
  | { kind: 'not_accepted'; error: ServiceError };

/** err_codes after which WeChat may or may not have acted: retry with the original parameters. */
const UNKNOWN_ERR_CODES = new Set(['SYSTEMERROR', 'SYSTEM_ERROR', 'BIZERR_NEED_RETRY', 'FREQUENCY_LIMITED']);
/** err_codes that say the out_trade_no already exists at WeChat. */
const ORDER_EXISTS_ERR_CODES = new Set(['ORDERPAID', 'ORDERCLOSED', 'OUT_TRADE_NO_USED']);
export const CONTRACT_CODE_DUPLICATION = 'CONTRACT_CODE DUPLICATION';

const REFUSAL_FIELDS = [
  'result_code',
  'err_code',
  'err_code_des',
  'contract_result_code',
  'contract_err_code',
  'contract_err_code_des',
] as const;

function refusalOf(data: Record<string, string>): WechatRefusal {
  const refusal: WechatRefusal = {};
  for (const name of REFUSAL_FIELDS) {
    const value = data[name];
    if (value !== undefined && value !== '') refusal[name] = value;
  }
  return refusal;
}

/** "201 商户订单号重复" arrives as `INVALID_REQUEST` (docs/wechatpay.md, *Pay-and-sign*). */
export function isDuplicateOrder(refusal: WechatRefusal): boolean {
  if (refusal.err_code !== undefined && ORDER_EXISTS_ERR_CODES.has(refusal.err_code)) return true;
  const des = refusal.err_code_des ?? '';
  return refusal.err_code === 'INVALID_REQUEST' && (/^\s*201\b/.test(des) || des.includes('订单号重复'));
}

export function isCodeDuplication(refusal: WechatRefusal): boolean {
  return refusal.err_code === CONTRACT_CODE_DUPLICATION || refusal.contract_err_code === CONTRACT_CODE_DUPLICATION;
}

/** Reads a verified `return_code=SUCCESS` answer. */
export function classifyAnswer(
  data: Record<string, string>,
  expected: { outTradeNo: string; contractCode: string; tradeType: TradeType },
): CallOutcome {
  const refusal = refusalOf(data);
  if (data['result_code'] !== 'SUCCESS') {
    if (data['result_code'] === undefined) return { kind: 'unknown', reason: 'answer without result_code' };
    if (refusal.err_code !== undefined && UNKNOWN_ERR_CODES.has(refusal.err_code)) {
      return { kind: 'unknown', reason: `err_code ${refusal.err_code}` };
    }
    if (isCodeDuplication(refusal)) return { kind: 'refused', refusal, consumes: { order: false, code: true } };
    if (isDuplicateOrder(refusal)) return { kind: 'refused', refusal, consumes: { order: true, code: false } };
    return { kind: 'refused', refusal, consumes: { order: false, code: false } };
  }
  const contractResult = data['contract_result_code'];
  const contractFailed = contractResult !== undefined && contractResult !== '' && contractResult !== 'SUCCESS';
  // Without a prepay_id the order is of no use either: a refusal of both (the order and the code are spent).
  if (contractFailed && !data['prepay_id']) return { kind: 'refused', refusal, consumes: { order: true, code: true } };
  // WeChat echoes what it acted on; an answer about another order is no answer about ours.
  for (const [field, value] of [
    ['out_trade_no', expected.outTradeNo],
    ['contract_code', expected.contractCode],
    ['trade_type', expected.tradeType],
  ] as const) {
    const echoed = data[field];
    if (echoed !== undefined && echoed !== '' && echoed !== value) return { kind: 'unknown', reason: `answer names a different ${field}` };
  }
  const prepayId = data['prepay_id'];
  if (!prepayId) return { kind: 'unknown', reason: 'answer without prepay_id' };
  const codeUrl = data['code_url'] || undefined;
  const mwebUrl = data['mweb_url'] || undefined;
  if (expected.tradeType === 'NATIVE' && !codeUrl) return { kind: 'unknown', reason: 'NATIVE answer without code_url' };
  if (expected.tradeType === 'MWEB' && !mwebUrl) return { kind: 'unknown', reason: 'MWEB answer without mweb_url' };
  return {
    kind: 'ok',
    prepayId,
    ...(codeUrl ? { codeUrl } : {}),
    ...(mwebUrl ? { mwebUrl } : {}),
    ...(contractFailed ? { contractRefusal: refusal } : {}),
  };
}

/** Reads a failed call. Anything that is not a WeChat failure (a bug) is thrown on. */
export function classifyError(error: unknown): CallOutcome {
  if (isTransient(error) || error instanceof MalformedResponseError) {
    return { kind: 'unknown', reason: error instanceof Error ? error.name : 'unknown' };
  }
  if (error instanceof WechatPayV2ReturnError) {
    return {
      kind: 'not_accepted',
      error: new ServiceError(502, 'WECHATPAY_RETURN_FAIL', `WeChat Pay did not accept the call: ${error.returnMsg || error.returnCode}`, {
        wechatpay: { return_code: error.returnCode, return_msg: error.returnMsg },
      }),
    };
  }
  if (error instanceof WechatPayApiError) {
    // APIv2 answers HTTP 200 even for refusals; another 4xx comes from something in between and consumed nothing.
    return {
      kind: 'not_accepted',
      error: new ServiceError(502, 'WECHATPAY_BAD_RESPONSE', `WeChat Pay answered HTTP ${error.status}`),
    };
  }
  throw error;
}

/**
 * The error our caller sees for a refusal, the same every time it is replayed: 409 when a key is used up
 * (`CONTRACT_CODE DUPLICATION`, a duplicate out_trade_no), else 422. WeChat's six fields are passed through.
 */
export function refusalError(refusal: WechatRefusal): ServiceError {
  const wechatpay = { ...refusal };
  const parts = [
    refusal.err_code ? `${refusal.err_code}${refusal.err_code_des ? ` (${refusal.err_code_des})` : ''}` : undefined,
    refusal.contract_err_code
      ? `contract ${refusal.contract_err_code}${refusal.contract_err_code_des ? ` (${refusal.contract_err_code_des})` : ''}`
      : undefined,
  ].filter(Boolean);
  const message = `WeChat Pay refused the contract order: ${parts.join('; ') || 'no reason given'}`;
  if (isCodeDuplication(refusal)) {
    return new ServiceError(409, CONTRACT_CODE_DUPLICATION, `${message}; contract codes are single-use, send a new contract_code`, { wechatpay });
  }
  if (isDuplicateOrder(refusal)) {
    return new ServiceError(409, refusal.err_code ?? 'INVALID_REQUEST', `${message}; send a new out_trade_no`, { wechatpay });
  }
  const code = refusal.result_code === 'SUCCESS' ? refusal.contract_err_code : refusal.err_code;
  return new ServiceError(422, code || 'WECHATPAY_REJECTED', message, { wechatpay });
}
