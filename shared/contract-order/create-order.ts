import { pendingAttributes } from '../store/pending';
import { CONTRACT_ORDER_PENDING_PRODUCT } from './record';
import { v2ClientFor } from './client';
import { ConfigError } from '../config/env';
import { conflict, ServiceError, unavailable } from '../http/errors';
import { validate } from '../http/validation';
import type { MerchantContext } from '../merchant/context';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { ClaimLostError, type Fingerprint } from '../store/claims';
import { claimedCall, type CallResult } from '../store/claimed-call';
import type { Item } from '../store/items';
import { keys, type RecordKey } from '../store/keys';
import type { WechatPayV2Client } from '../wechatpay';
import { classifyAnswer, classifyError, isCodeDuplication, refusalError, type CallOutcome } from './outcome';
import { recoverContractByCode } from '../papay/contracts';
import { payParams } from './pay-params';
import {
  answerIsUsable,
  MWEB_URL_TTL_MS,
  PREPAY_TTL_MS,
  toAnswer,
  type ContractCodeRecord,
  type ContractState,
  type PaymentState,
  type ContractOrderAnswer,
  type ContractOrderRecord,
} from './record';
import { createContractOrderSchema, type CreateContractOrderInput } from './schema';
import { canonicalParams, CONTRACT_ORDER_PATH, contractOrderParams, type ContractOrderParams } from './wechat-request';
import { wechatBudgetMs } from '../runtime/invocation';

/** The states a call of ours decides the order's state from; a notification's SUCCESS or PAYERROR is never undone. */
const CALL_FROM: readonly PaymentState[] = ['CREATING', 'UNCERTAIN'];

/** Orders are kept long enough for any refund or dispute window, then expire by TTL. Contract codes never expire. */
const RETENTION_SECONDS = 400 * 24 * 3600;
/** Longer than the v2 client's worst case (3 attempts × timeout + backoff) so the lease outlives the call. */
const LEASE_MS = 30_000;

export interface CreateContractOrderResult {
  answer: ContractOrderAnswer;
  replayed: boolean;
}

const busy = () =>
  new ServiceError(409, 'REQUEST_IN_PROGRESS', 'the same contract order is being created; retry shortly', { retryAfterSeconds: 1 });

/**
 * `POST /contract-orders` (pay-and-sign, APIv2 `/pay/contractorder`).
 *
 * - Same request again → the stored answer while its prepay_id (2 h) and, for MWEB, its mweb_url (5 min) are
 *   usable; after that 409: the contract code was sent and is single-use, so only a new order can follow.
 * - A different request for the same out_trade_no, or for the same contract_code → 409 without calling WeChat.
 * - N concurrent identical requests → one WeChat call (the order claim), the others get its answer.
 * - WeChat's answer lost → 503 + Retry-After; only the identical request may try again (both keys stay bound).
 */
export async function createContractOrder(rt: Runtime, body: unknown): Promise<CreateContractOrderResult> {
  const input = validate(createContractOrderSchema, body);
  const merchant = await rt.merchants.get('direct');
  const client = v2ClientFor(merchant);
  const apiV2Key = merchant.apiV2Key;
  if (!client || !apiV2Key) throw new ConfigError('the direct merchant secret has no apiV2Key (needed for contract orders)');

  const params = contractOrderParams(input, merchant, rt.config.publicBaseUrl);
  const fingerprint = merchant.fingerprint(canonicalParams(params));
  const attempt: Attempt = { rt, input, merchant, client, apiV2Key, params, fingerprint };

  const { record, replayed } = await claimedCall<ContractOrderRecord>({
    claims: rt.claims,
    key: keys.contractOrder(input.out_trade_no),
    fingerprint,
    leaseMs: LEASE_MS,
    initial: {
      kind: 'CONTRACT_ORDER',
      out_trade_no: input.out_trade_no,
      mchid: merchant.mchid,
      appid: merchant.appid,
      total_fee: input.total_fee,
      trade_type: input.trade_type,
      contract_code: input.contract_code,
      plan_id: String(input.plan_id),
      state: 'CREATING',
      expires_at: Math.floor(rt.now() / 1000) + RETENTION_SECONDS,
      // Pending until paid and signed (or refused, or closed): the recovery sweeper asks WeChat for both halves.
      ...pendingAttributes(CONTRACT_ORDER_PENDING_PRODUCT, rt.now() + rt.config.h5QueryAfterSeconds * 1000),
    },
    // A lost answer is asked again (with the identical parameters), and so is an unpaid MWEB order whose 5-minute
    // mweb_url ran out while its prepay_id lives on: WeChat answers the identical request with fresh links, as for H5.
    onRepeat: (existing) => (existing.state === 'UNCERTAIN' || linkRenewable(existing, rt.now()) ? 'renew' : 'replay'),
    onConflict: () =>
      conflict('OUT_TRADE_NO_USED', `out_trade_no ${input.out_trade_no} was already used for a different contract order`),
    onBusy: busy,
    call: (existing) => callWechat(attempt, existing),
  });
  return { answer: settle(rt, record, replayed), replayed };
}

interface Attempt {
  rt: Runtime;
  input: CreateContractOrderInput;
  merchant: MerchantContext;
  client: WechatPayV2Client;
  apiV2Key: string;
  params: ContractOrderParams;
  fingerprint: Fingerprint;
}

/** Turns the stored record into the answer, or into the error the same request always gets. */
function settle(rt: Runtime, record: ContractOrderRecord, replayed: boolean): ContractOrderAnswer {
  switch (record.state) {
    case 'UNCERTAIN':
      throw unavailable('WeChat Pay did not give a usable answer; send the same request again');
    case 'REJECTED':
      throw refusalError(record.refusal ?? {});
    case 'CREATING':
      throw busy();
    default:
      // Paid while we asked WeChat (a renewal racing the payment): the order, not a fresh link.
      if (!replayed && record.state === 'SUCCESS') {
        throw conflict('ORDERPAID', `contract order ${record.out_trade_no} is already paid`);
      }
      // A fresh answer is always handed over; a stored one only while it still opens the cashier.
      if (!replayed || answerIsUsable(record, rt.now())) return toAnswer(record);
      if (record.state === 'SUCCESS') {
        throw conflict('ORDERPAID', `contract order ${record.out_trade_no} is already paid`);
      }
      throw conflict(
        'PREPAY_EXPIRED',
        `the ${record.trade_type === 'MWEB' ? 'mweb_url' : 'prepay_id'} of contract order ${record.out_trade_no} has expired; contract codes are single-use, so create a new order with a new out_trade_no and contract_code`,
      );
  }
}

/** Only the MWEB link expired: the order is unpaid and its prepay_id still usable, so WeChat can refresh the link. */
function linkRenewable(record: ContractOrderRecord, now: number): boolean {
  return (
    record.state === 'NOTPAY' &&
    record.trade_type === 'MWEB' &&
    !answerIsUsable(record, now) &&
    (record.prepay_expires_at ?? 0) > now + PREPAY_RENEW_MARGIN_MS
  );
}

/** A renewed link must be worth handing out: at least this much of the prepay_id's life left. */
const PREPAY_RENEW_MARGIN_MS = 60_000;

/** Runs under the order's lease: reserve the contract code, make the one call, store what it consumed. */
async function callWechat(a: Attempt, existing: ContractOrderRecord | undefined): Promise<CallResult> {
  if (existing?.state === 'NOTPAY') return renewLinks(a);
  const { rt, input } = a;
  const codeKey = keys.contractCode(input.contract_code);
  const reservation = await reserveCode(a, codeKey);
  // An earlier attempt of this very request may have reached WeChat (its answer was lost, or its worker died
  // holding the lease): from now on nothing is given back.
  const earlierAttempt = existing !== undefined || reservation.earlierUnknown;
  // The client's own retry (after a timeout or 5xx) is an earlier attempt too: a refusal may be WeChat
  // recognising the first one (ORDERPAID, CONTRACT_CODE已使用).
  let retried = false;

  // Link lifetimes are counted from before the call: WeChat's clock started no later, so ours never outlives it.
  const started = rt.now();
  let outcome: CallOutcome;
  try {
    const response = await a.client.post(CONTRACT_ORDER_PATH, a.params, { budgetMs: wechatBudgetMs('call') });
    retried = response.attempts > 1;
    outcome = classifyAnswer(response.data, {
      outTradeNo: input.out_trade_no,
      contractCode: input.contract_code,
      tradeType: input.trade_type,
    });
  } catch (error) {
    retried = ((error as { attempts?: number }).attempts ?? 1) > 1;
    try {
      outcome = classifyError(error);
    } catch (bug) {
      await rt.claims.release(codeKey, reservation.token);
      throw bug;
    }
  }
  logger.info('contractorder answered', {
    out_trade_no: input.out_trade_no,
    outcome: outcome.kind,
    ...(outcome.kind === 'unknown' ? { reason: outcome.reason } : {}),
    ...(outcome.kind === 'refused' ? { err_code: outcome.refusal.err_code, contract_err_code: outcome.refusal.contract_err_code } : {}),
  });

  const earlierUnknown = earlierAttempt || retried;
  switch (outcome.kind) {
    case 'ok': {
      // Paid-not-signed (#21): the order stands, the code is spent and its contract refused.
      if (outcome.contractRefusal) await completeCode(a, codeKey, reservation.token, 'REJECTED', { refusal: outcome.contractRefusal });
      else await completeCode(a, codeKey, reservation.token, 'PENDING');
      return {
        advance: { to: 'NOTPAY', from: CALL_FROM },
        fields: { ...answerFields(a, outcome, started), ...(outcome.contractRefusal ? { contract_refusal: outcome.contractRefusal } : {}) },
      };
    }
    case 'unknown':
      await completeCode(a, codeKey, reservation.token, 'UNCERTAIN');
      return { advance: { to: 'UNCERTAIN', from: CALL_FROM }, fields: { last_unknown_reason: outcome.reason } };
    case 'not_accepted':
      if (earlierUnknown) {
        // This call changed nothing, but an earlier one may have: both keys stay with this request until a
        // retry of it gets a real answer.
        await completeCode(a, codeKey, reservation.token, 'UNCERTAIN');
        return { advance: { to: 'UNCERTAIN', from: CALL_FROM }, fields: { last_unknown_reason: outcome.error.code } };
      }
      await rt.claims.release(codeKey, reservation.token);
      // Nothing changed at WeChat: both keys are given back.
      throw outcome.error;
    case 'refused': {
      const codeUsed = outcome.consumes.code || earlierUnknown;
      const orderUsed = outcome.consumes.order || earlierUnknown;
      if (codeUsed) await completeCode(a, codeKey, reservation.token, 'REJECTED', { refusal: outcome.refusal });
      else await rt.claims.release(codeKey, reservation.token);
      // "Already signed": find out what WeChat holds under the code before anyone decides anything (#20).
      if (isCodeDuplication(outcome.refusal)) await recoverContractByCode(rt, a.merchant, String(input.plan_id), input.contract_code);
      // The order record keeps the refusal only if the out_trade_no is used up; otherwise the key is given back so
      // a corrected request (e.g. with a new contract_code) may use the same out_trade_no.
      if (!orderUsed) throw refusalError(outcome.refusal);
      // Final for the sweeper unless an earlier attempt's outcome is unknown: that one may have been paid.
      return { advance: { to: 'REJECTED', from: CALL_FROM, ...(earlierUnknown ? {} : { pending: null }) }, fields: { refusal: outcome.refusal } };
    }
  }
}

/** What an accepted call stores: the prepay, its links and the client's pay parameters, timed from `started`. */
function answerFields(a: Attempt, outcome: Extract<CallOutcome, { kind: 'ok' }>, started: number): Item {
  const { input } = a;
  return {
    prepay_id: outcome.prepayId,
    prepay_expires_at: Math.min(started + PREPAY_TTL_MS, timeExpireMs(input.time_expire) ?? Number.POSITIVE_INFINITY),
    code_url: outcome.codeUrl,
    mweb_url: outcome.mwebUrl,
    mweb_url_expires_at: outcome.mwebUrl ? started + MWEB_URL_TTL_MS : undefined,
    pay_params: payParams({
      tradeType: input.trade_type,
      appid: a.merchant.appid,
      mchid: a.merchant.mchid,
      prepayId: outcome.prepayId,
      apiV2Key: a.apiV2Key,
      now: started,
    }),
  };
}

/**
 * The identical request for an unpaid order whose link ran out: WeChat already holds the order and the contract
 * code, so nothing is reserved and nothing can be given back — an answer refreshes the links, anything else leaves
 * both records as they are and tells the caller (paid, closed, or try again).
 */
async function renewLinks(a: Attempt): Promise<CallResult> {
  const { rt, input } = a;
  const started = rt.now();
  let outcome: CallOutcome;
  try {
    const response = await a.client.post(CONTRACT_ORDER_PATH, a.params, { budgetMs: wechatBudgetMs('call') });
    outcome = classifyAnswer(response.data, { outTradeNo: input.out_trade_no, contractCode: input.contract_code, tradeType: input.trade_type });
  } catch (error) {
    outcome = classifyError(error);
  }
  logger.info('contractorder renewed', { out_trade_no: input.out_trade_no, outcome: outcome.kind });
  switch (outcome.kind) {
    case 'ok':
      // A notification may have paid the order meanwhile: the state stays, and the view then shows no link.
      return { advance: { to: 'NOTPAY', from: ['NOTPAY'] }, fields: answerFields(a, outcome, started) };
    case 'unknown':
      throw unavailable('WeChat Pay did not give a usable answer; send the same request again');
    case 'not_accepted':
      throw outcome.error;
    case 'refused':
      if (outcome.refusal.err_code === 'ORDERPAID') {
        throw conflict('ORDERPAID', `contract order ${input.out_trade_no} is already paid`);
      }
      throw refusalError(outcome.refusal);
  }
}

/**
 * Claims the contract code for this request before it is sent: a code held by any other request (or already used)
 * answers 409 without calling WeChat. The same request finds its own earlier reservation only after an unknown
 * outcome (or a refusal it is then told about again).
 */
async function reserveCode(a: Attempt, codeKey: RecordKey): Promise<{ token: string; earlierUnknown: boolean }> {
  const { rt, input } = a;
  const outcome = await rt.claims.claim<ContractCodeRecord>(codeKey, a.fingerprint, LEASE_MS, {
    kind: 'CONTRACT_CODE',
    contract_code: input.contract_code,
    out_trade_no: input.out_trade_no,
    mchid: a.merchant.mchid,
    plan_id: String(input.plan_id),
    state: 'RESERVED',
  });
  switch (outcome.kind) {
    case 'claimed':
      // A reservation taken over from a worker that died holding it may have been sent.
      return { token: outcome.token, earlierUnknown: outcome.record !== undefined };
    case 'conflict':
      throw codeUsed(input.contract_code);
    case 'in_progress':
      throw busy();
    case 'done': {
      const record = outcome.record;
      if (record.state === 'REJECTED') throw refusalError(record.refusal ?? {});
      if (record.state !== 'UNCERTAIN') throw codeUsed(input.contract_code);
      const token = await rt.claims.renew(codeKey, record.fingerprint, LEASE_MS);
      if (!token) throw busy();
      return { token, earlierUnknown: true };
    }
  }
}

const codeUsed = (contractCode: string) =>
  conflict('CONTRACT_CODE_USED', `contract_code ${contractCode} was already used; contract codes are single-use, send a new one`);

/** The states the call itself decides from: a contract a notification already signed or ended stays so. */
const CODE_CALL_FROM: readonly ContractState[] = ['RESERVED', 'UNCERTAIN'];

async function completeCode(a: Attempt, codeKey: RecordKey, token: string, to: ContractState, fields: Item = {}): Promise<void> {
  try {
    await a.rt.claims.complete(codeKey, token, { ...fields, out_trade_no: a.input.out_trade_no }, { to, from: CODE_CALL_FROM });
  } catch (error) {
    // The code's lease ran out while WeChat answered. The record still carries this request's fingerprint, so no
    // other request can take the code; the order's answer matters more than this bookkeeping.
    if (!(error instanceof ClaimLostError)) throw error;
    logger.warn('contract code lease lost', { contract_code: a.input.contract_code, out_trade_no: a.input.out_trade_no });
  }
}

/** `time_expire` is Beijing time (UTC+8); a prepay_id is no use after the order itself expired. */
function timeExpireMs(timeExpire: string | undefined): number | undefined {
  const m = timeExpire ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(timeExpire) : null;
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(year, month - 1, day, hour - 8, minute, second);
}
