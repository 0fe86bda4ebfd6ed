import { RequestValidationError, validate } from '../http/validation';
import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import type { MerchantContext } from '../merchant/context';
import { isTransient } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { claimedCall, type CallResult } from '../store/claimed-call';
import type { ClaimedRecord } from '../store/claims';
import { keys } from '../store/keys';
import { applyTransition } from '../store/transitions';
import { pendingAttributes } from '../store/pending';
import { MalformedResponseError, WechatPayApiError } from '../wechatpay';
import { applyRepaymentFacts, queryDeductOrder } from './notification';
import { repaymentView, type RepaymentContractRecord, type RepaymentRecord, type RepaymentState, type RepaymentView } from './record';
import {
  createRepaymentSchema,
  createScheduleSchema,
  OUT_CONTRACT_CODE,
  OUT_CONTRACT_CODE_RULE,
  TRADE_OUT_TRADE_NO,
  type CreateRepaymentInput,
  type CreateScheduleInput,
} from './schema';
import { deductOrderQueryPath, REPAYMENT_NOTIFY_PATH } from './wechat-request';

export const SCHEDULE_PATH = '/v3/credit-repayment/partner/schedule-records/batch-create';
export const DEDUCT_ORDERS_PATH = '/v3/credit-repayment/partner/deduct-orders';
export const scheduleQueryPath = (outRecordId: string, contractId: string) =>
  `/v3/credit-repayment/partner/schedule-records/${encodeURIComponent(outRecordId)}?contract_id=${encodeURIComponent(contractId)}`;

const LEASE_MS = 30_000;
/** The recovery sweeper's partition for repayments we started (shared/recovery). */
export const REPAYMENT_PENDING_PRODUCT = 'REPAYMENT';
const DAY_MS = 24 * 3600 * 1000;
const RETENTION_SECONDS = 400 * 24 * 3600;
const CALL_FROM = ['CREATING', 'UNCERTAIN'] as const;

const busy = () => new ServiceError(409, 'REQUEST_IN_PROGRESS', 'the same request is being made; retry shortly', { retryAfterSeconds: 1 });

function checkCode(code: string | undefined): string {
  if (!code || !OUT_CONTRACT_CODE.test(code)) throw new RequestValidationError([{ field: 'out_contract_code', message: OUT_CONTRACT_CODE_RULE }]);
  return code;
}

/** The contract a schedule or repayment is for: it must be in force, and WeChat must have named it. */
async function contractInForce(rt: Runtime, code: string): Promise<RepaymentContractRecord & { contract_id: string }> {
  const contract = await rt.claims.get<RepaymentContractRecord>(keys.repaymentContract(code));
  if (!contract || contract.state === 'PRESIGNING' || contract.state === 'UNCERTAIN') throw notFound(`repayment contract ${code}`);
  if (contract.state !== 'SIGNED' || !contract.contract_id) {
    throw conflict('CONTRACT_NOT_IN_FORCE', `repayment contract ${code} is ${contract.state}; repayments need a signed contract`);
  }
  return contract as RepaymentContractRecord & { contract_id: string };
}

const beijingDate = (ms: number) => new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);

/** WeChat's window for a repayment date: from tomorrow up to 14 days ahead, Beijing dates (reference §3.4). */
function checkRepaymentDate(date: string, now: number): void {
  const today = Date.parse(`${beijingDate(now)}T00:00:00+08:00`);
  const first = beijingDate(today + DAY_MS);
  const last = beijingDate(today + 14 * DAY_MS);
  if (Number.isNaN(Date.parse(`${date}T00:00:00+08:00`)) || date < first || date > last) {
    throw new RequestValidationError([{ field: 'repayment_date', message: `must be from ${first} to ${last}: WeChat takes dates from the next day to 14 days ahead (Beijing)` }]);
  }
}

// --- schedules -----------------------------------------------------------------------------------------------

export type ScheduleState = 'CREATING' | 'UNCERTAIN' | 'REJECTED' | 'SCHEDULED';

export interface ScheduleRecord extends ClaimedRecord {
  kind: 'REPAYMENT_SCHEDULE';
  out_record_id: string;
  out_contract_code: string;
  contract_id: string;
  mchid: string;
  repayment_amount: string;
  min_repayment_amount?: string;
  repayment_date: string;
  state: ScheduleState;
  refusal?: { code: string; message: string };
}

export interface ScheduleView {
  out_record_id: string;
  out_contract_code: string;
  contract_id: string;
  state: 'SCHEDULED';
  repayment_amount: string;
  min_repayment_amount?: string;
  repayment_date: string;
}

function scheduleView(r: ScheduleRecord): ScheduleView {
  if (r.state === 'UNCERTAIN') throw unavailable('WeChat Pay did not give a usable answer; send the same request again');
  if (r.state === 'CREATING') throw busy();
  if (r.state === 'REJECTED') throw new ServiceError(422, r.refusal?.code ?? 'WECHATPAY_REJECTED', r.refusal?.message ?? 'WeChat Pay refused the schedule');
  return {
    out_record_id: r.out_record_id,
    out_contract_code: r.out_contract_code,
    contract_id: r.contract_id,
    state: 'SCHEDULED',
    repayment_amount: r.repayment_amount,
    ...(r.min_repayment_amount ? { min_repayment_amount: r.min_repayment_amount } : {}),
    repayment_date: r.repayment_date,
  };
}

/**
 * `POST /repayment-contracts/{out_contract_code}/schedules` (schedule-records/batch-create, one item). The date is
 * checked against WeChat's window before anything is claimed; the rest follows the presign's rules: a claim and a
 * keyed fingerprint, 409 on a different body, one call under concurrency, a lost answer asked again identically.
 */
export async function createSchedule(rt: Runtime, codeParam: string | undefined, body: unknown): Promise<{ schedule: ScheduleView; replayed: boolean }> {
  const code = checkCode(codeParam);
  const input = validate(createScheduleSchema, body);
  checkRepaymentDate(input.repayment_date, rt.now());
  if (input.min_repayment_amount !== undefined && BigInt(input.min_repayment_amount) > BigInt(input.repayment_amount)) {
    throw new RequestValidationError([{ field: 'min_repayment_amount', message: 'must be at most repayment_amount' }]);
  }
  const contract = await contractInForce(rt, code);
  if (contract.repayment_amount_limit && BigInt(input.repayment_amount) > BigInt(contract.repayment_amount_limit)) {
    throw new RequestValidationError([{ field: 'repayment_amount', message: `must be at most the contract's repayment_amount_limit (${contract.repayment_amount_limit} fen)` }]);
  }
  const subMchid = input.sub_mchid ?? contract.sub_mchid;
  if (!subMchid) throw new RequestValidationError([{ field: 'sub_mchid', message: 'is required: the contract names no sub-merchant' }]);
  const merchant = await rt.merchants.get('partner');
  const request = {
    contract_id: contract.contract_id,
    appid: contract.appid ?? merchant.appid,
    openid: contract.openid ?? '',
    schedule_items: [
      {
        out_record_id: input.out_record_id,
        sub_mchid: subMchid,
        ...(contract.sub_appid ? { sub_appid: contract.sub_appid } : {}),
        repayment_amount: input.repayment_amount,
        ...(input.min_repayment_amount ? { min_repayment_amount: input.min_repayment_amount } : {}),
        repayment_date: input.repayment_date,
      },
    ],
  };
  const { record, replayed } = await claimedCall<ScheduleRecord>({
    claims: rt.claims,
    key: keys.repaymentSchedule(input.out_record_id),
    fingerprint: merchant.fingerprint(`schedule/v1\n${code}\n${JSON.stringify(request)}`),
    leaseMs: LEASE_MS,
    initial: {
      kind: 'REPAYMENT_SCHEDULE',
      out_record_id: input.out_record_id,
      out_contract_code: code,
      contract_id: contract.contract_id,
      mchid: merchant.mchid,
      repayment_amount: input.repayment_amount,
      min_repayment_amount: input.min_repayment_amount,
      repayment_date: input.repayment_date,
      state: 'CREATING',
      expires_at: Math.floor(rt.now() / 1000) + RETENTION_SECONDS,
    },
    onRepeat: (existing) => (existing.state === 'UNCERTAIN' ? 'renew' : 'replay'),
    onConflict: () => conflict('OUT_RECORD_ID_USED', `out_record_id ${input.out_record_id} was already used for a different schedule`),
    onBusy: busy,
    call: (existing) => scheduleAtWechat(merchant, input, request, contract.contract_id, existing !== undefined),
  });
  return { schedule: scheduleView(record), replayed };
}

async function scheduleAtWechat(
  merchant: MerchantContext,
  input: CreateScheduleInput,
  request: object,
  contractId: string,
  earlierAttempt: boolean,
): Promise<CallResult> {
  try {
    await merchant.v3.request({ method: 'POST', path: SCHEDULE_PATH, body: request, budgetMs: wechatBudgetMs('call') });
    return { advance: { to: 'SCHEDULED', from: CALL_FROM }, fields: {} };
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) return { advance: { to: 'UNCERTAIN', from: CALL_FROM }, fields: { last_error: codeOf(error) } };
    if (error instanceof WechatPayApiError && error.status >= 400 && error.status < 500 && error.status !== 401) {
      // After a lost answer, a refusal may be WeChat recognising our first call: the record query decides.
      if (earlierAttempt || (error.attempts ?? 1) > 1) {
        const found = await merchant.v3
          .request({ method: 'GET', path: scheduleQueryPath(input.out_record_id, contractId), budgetMs: wechatBudgetMs('confirm') })
          .then(() => true, () => false);
        if (found) return { advance: { to: 'SCHEDULED', from: CALL_FROM }, fields: {} };
      }
      return { advance: { to: 'REJECTED', from: CALL_FROM }, fields: { refusal: { code: error.code, message: error.message } } };
    }
    throw error;
  }
}

/** `GET /repayment-contracts/{out_contract_code}/schedules/{out_record_id}`: the stored schedule (a lost answer asked). */
export async function getSchedule(rt: Runtime, codeParam: string | undefined, outRecordId: string | undefined): Promise<ScheduleView> {
  const code = checkCode(codeParam);
  if (!outRecordId || !/^[0-9A-Za-z]{1,32}$/.test(outRecordId)) throw new RequestValidationError([{ field: 'out_record_id', message: 'must be 1-32 characters of 0-9 A-Z a-z' }]);
  const key = keys.repaymentSchedule(outRecordId);
  const record = await rt.claims.get<ScheduleRecord>(key);
  if (!record || record.out_contract_code !== code || record.state === 'CREATING') throw notFound(`schedule ${outRecordId} of contract ${code}`);
  if (record.state === 'UNCERTAIN') {
    const merchant = await rt.merchants.get('partner');
    const found = await merchant.v3
      .request({ method: 'GET', path: scheduleQueryPath(outRecordId, record.contract_id), budgetMs: wechatBudgetMs('confirm') })
      .then(() => true, () => false);
    if (found) {
      await applyTransition(rt.dynamo, rt.config.tableName, { key, to: 'SCHEDULED', from: ['UNCERTAIN'], eventId: `query:scheduled:${outRecordId}`, now: rt.now() });
      return scheduleView({ ...record, state: 'SCHEDULED' });
    }
  }
  return scheduleView(record);
}

// --- repayments ----------------------------------------------------------------------------------------------

function settle(r: RepaymentRecord): RepaymentView & { out_contract_code: string } {
  const state = r.state as RepaymentState;
  if (state === 'UNCERTAIN') throw unavailable('WeChat Pay did not give a usable answer; send the same request again (the same out_trade_no is repaid at most once)');
  if (state === 'CREATING') throw busy();
  if (state === 'REJECTED') {
    const refusal = r['refusal'] as { code: string; message: string } | undefined;
    throw new ServiceError(422, refusal?.code ?? 'WECHATPAY_REJECTED', refusal?.message ?? 'WeChat Pay refused the repayment');
  }
  return { ...repaymentView(r), out_contract_code: r.out_contract_code };
}

/**
 * `POST /repayment-contracts/{out_contract_code}/repayments` (deduct-orders, our notify_url): a repayment of a
 * scheduled record. Same rules as the presign: claim + keyed fingerprint, 409 on a different body, one WeChat call
 * under concurrency, UNCERTAIN after a lost answer until the deduct-order query decides. The repayment is listed on
 * its contract.
 */
export async function createRepayment(rt: Runtime, codeParam: string | undefined, body: unknown): Promise<{ repayment: RepaymentView; replayed: boolean }> {
  const code = checkCode(codeParam);
  const input = validate(createRepaymentSchema, body);
  const contract = await contractInForce(rt, code);
  const merchant = await rt.merchants.get('partner');
  const request = {
    contract_id: contract.contract_id,
    out_trade_no: input.out_trade_no,
    out_record_id: input.out_record_id,
    deduct_amount: input.deduct_amount,
    notify_url: `${rt.config.publicBaseUrl}${REPAYMENT_NOTIFY_PATH}`,
    description: input.description,
    ...(input.attach ? { attach: input.attach } : {}),
  };
  const { record, replayed } = await claimedCall<RepaymentRecord & ClaimedRecord>({
    claims: rt.claims,
    key: keys.repayment(input.out_trade_no),
    fingerprint: merchant.fingerprint(`repayment/v1\n${code}\n${JSON.stringify(request)}`),
    leaseMs: LEASE_MS,
    initial: {
      kind: 'REPAYMENT',
      source: 'deduct-order',
      out_trade_no: input.out_trade_no,
      out_contract_code: code,
      out_record_id: input.out_record_id,
      mchid: merchant.mchid,
      deduct_amount: input.deduct_amount,
      description: input.description,
      attach: input.attach,
      state: 'CREATING',
      expires_at: Math.floor(rt.now() / 1000) + RETENTION_SECONDS,
      // Until WeChat's word is final the recovery sweeper asks (failed repayments may never be notified).
      ...pendingAttributes(REPAYMENT_PENDING_PRODUCT, rt.now() + rt.config.h5QueryAfterSeconds * 1000),
    },
    onRepeat: (existing) => (existing.state === 'UNCERTAIN' ? 'renew' : 'replay'),
    onConflict: () => conflict('OUT_TRADE_NO_USED', `out_trade_no ${input.out_trade_no} was already used for a different repayment`),
    onBusy: busy,
    call: async (existing) => {
      // Listed on its contract before WeChat hears of it, so no repayment that may exist is missing from GET.
      await rt.claims.addToSet(keys.repaymentContract(code), 'repayment_nos', input.out_trade_no);
      return repayAtWechat(merchant, input, request, existing !== undefined);
    },
  });
  return { repayment: settle(record), replayed };
}

async function repayAtWechat(merchant: MerchantContext, input: CreateRepaymentInput, request: object, earlierAttempt: boolean): Promise<CallResult> {
  try {
    const response = await merchant.v3.request<{ order_state?: string }>({ method: 'POST', path: DEDUCT_ORDERS_PATH, body: request, budgetMs: wechatBudgetMs('call') });
    logger.info('repayment accepted', { out_trade_no: input.out_trade_no, order_state: response.data?.order_state });
    // Accepted is not repaid: the notification or the query tells which (a settled state is booked by them, bound).
    return { advance: { to: 'PENDING', from: CALL_FROM }, fields: { order_state: response.data?.order_state } };
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) return { advance: { to: 'UNCERTAIN', from: CALL_FROM }, fields: { last_error: codeOf(error) } };
    if (error instanceof WechatPayApiError && error.status >= 400 && error.status < 500 && error.status !== 401) {
      if (earlierAttempt || (error.attempts ?? 1) > 1) {
        const found = await merchant.v3
          .request({ method: 'GET', path: deductOrderQueryPath(input.out_trade_no), budgetMs: wechatBudgetMs('confirm') })
          .then(() => true, () => false);
        if (found) return { advance: { to: 'PENDING', from: CALL_FROM }, fields: {} };
      }
      return { advance: { to: 'REJECTED', from: CALL_FROM, pending: null }, fields: { refusal: { code: error.code, message: error.message } } };
    }
    throw error;
  }
}

/**
 * Asks WeChat about one repayment (deduct-order query) and books the answer through the notification's own
 * transition; shared by GET and the recovery sweeper. Undefined when WeChat gave no usable answer.
 */
export async function confirmRepayment(rt: Runtime, outTradeNo: string): Promise<RepaymentRecord | undefined> {
  const key = keys.repayment(outTradeNo);
  const record = await rt.claims.get<RepaymentRecord>(key);
  if (!record) return undefined;
  try {
    const merchant = await rt.merchants.get('partner');
    const facts = await queryDeductOrder(merchant, outTradeNo, 'confirm');
    if (facts) {
      // WeChat has the order: a lost answer is at least accepted (forward only: a notification may have settled it).
      if (record.state === 'UNCERTAIN') {
        await applyTransition(rt.dynamo, rt.config.tableName, { key, to: 'PENDING', from: ['UNCERTAIN'], eventId: `query:accepted:${outTradeNo}`, now: rt.now() });
      }
      await applyRepaymentFacts(rt, outTradeNo, facts, `query:${facts.order_state ?? 'unknown'}:${outTradeNo}`, 'query');
    }
    await rt.claims.touch(key, { last_checked_at: rt.now() });
    return (await rt.claims.get<RepaymentRecord>(key)) ?? record;
  } catch (error) {
    logger.warn('repayment query failed', { out_trade_no: outTradeNo, error: codeOf(error) });
    return undefined;
  }
}

/**
 * `GET /repayment-contracts/{out_contract_code}/repayments/{out_trade_no}`: the stored repayment; one not final
 * after the configured age is first confirmed with the deduct-order query (bounded like every GET) and booked
 * through the notification's own transition.
 */
export async function getRepayment(rt: Runtime, codeParam: string | undefined, outTradeNo: string | undefined): Promise<RepaymentView> {
  const code = checkCode(codeParam);
  if (!outTradeNo || !TRADE_OUT_TRADE_NO.test(outTradeNo)) throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 1-32 characters of 0-9 A-Z a-z' }]);
  const key = keys.repayment(outTradeNo);
  let record = await rt.claims.get<RepaymentRecord>(key);
  if (!record || record.out_contract_code !== code || record.state === 'CREATING') throw notFound(`repayment ${outTradeNo} of contract ${code}`);
  const minAgeMs = rt.config.h5QueryAfterSeconds * 1000;
  const pending = record.state === 'PENDING' || record.state === 'UNCERTAIN';
  const lastChecked = Number(record['last_checked_at'] ?? 0);
  if (pending && rt.now() - record.created_at >= minAgeMs && rt.now() - lastChecked >= minAgeMs) {
    record = (await confirmRepayment(rt, outTradeNo)) ?? record;
  }
  return settle(record);
}

/** A contract's repayments beyond the first (their numbers are kept on the contract), for its GET. */
export async function repaymentsOf(rt: Runtime, contract: RepaymentContractRecord): Promise<RepaymentView[]> {
  const numbers = contract['repayment_nos'];
  if (!(numbers instanceof Set) || numbers.size === 0) return [];
  const records = await rt.claims.getMany<RepaymentRecord>([...numbers].map((no) => keys.repayment(String(no))));
  return records
    .filter((r) => r.state !== 'CREATING')
    .sort((a, b) => a.created_at - b.created_at)
    .map((r) => repaymentView(r));
}

function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'unknown';
}
