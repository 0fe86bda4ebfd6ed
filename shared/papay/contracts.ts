import { v2ClientFor } from '../contract-order/client';
import { CONTRACT_FORWARD_FROM, type ContractCodeRecord } from '../contract-order/record';
import { ConfigError } from '../config/env';
import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import { wechatTime } from '../http/time';
import { RequestValidationError, validate } from '../http/validation';
import type { MerchantContext } from '../merchant/context';
import { isTransient } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs, type WechatCallPurpose } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { applyTransition } from '../store/transitions';
import { MalformedResponseError, WechatPayV2ReturnError, type WechatPayV2Client } from '../wechatpay';
import { CONTRACT_ID, terminateContractSchema } from './schema';
import { indexContract, isIndexedContractState } from './contract-index';
import { CONTRACT_CODE } from '../contract-order/schema';

export const QUERY_CONTRACT_PATH = '/papay/querycontract';
export const DELETE_CONTRACT_PATH = '/papay/deletecontract';

export interface PapayContractView {
  contract_id: string;
  contract_code: string;
  plan_id: number;
  state: string;
  /** The payer, as WeChat's notification or query named it (never taken from our own request). */
  openid?: string;
  signed_at?: string;
  terminated_at?: string;
  termination_mode?: string;
  expires_at?: string;
  out_trade_no: string;
}

function toContractView(r: ContractCodeRecord): PapayContractView {
  const t = (value: string | undefined) => wechatTime(value);
  return {
    contract_id: r.contract_id ?? '',
    contract_code: r.contract_code,
    plan_id: Number(r.plan_id),
    state: r.state,
    ...(r.openid ? { openid: r.openid } : {}),
    ...(t(r.signed_at) ? { signed_at: t(r.signed_at) } : {}),
    ...(t(r.terminated_at) ? { terminated_at: t(r.terminated_at) } : {}),
    ...(r.contract_termination_mode ? { termination_mode: r.contract_termination_mode } : {}),
    ...(t(r.contract_expired_time) ? { expires_at: t(r.contract_expired_time) } : {}),
    out_trade_no: r.out_trade_no,
  };
}

function checkId(contractId: string | undefined): string {
  if (!contractId || !CONTRACT_ID.test(contractId)) {
    throw new RequestValidationError([{ field: 'contract_id', message: 'must be 1-32 characters of 0-9 A-Z a-z _ -' }]);
  }
  return contractId;
}

function client(merchant: MerchantContext): WechatPayV2Client {
  const c = v2ClientFor(merchant);
  if (!c) throw new ConfigError('the direct merchant secret has no apiV2Key (needed for papay)');
  return c;
}

/** Our contract for a WeChat contract_id (the index the contract notification writes), or undefined. */
export async function contractById(rt: Runtime, contractId: string): Promise<ContractCodeRecord | undefined> {
  const index = await rt.claims.get<{ contract_code: string }>(keys.papayContractId(contractId));
  if (!index) return undefined;
  const record = await rt.claims.get<ContractCodeRecord>(keys.contractCode(index.contract_code));
  return record && record.contract_id === contractId ? record : undefined;
}

interface QueriedContract {
  contract_code: string;
  plan_id: string;
  state: 'SIGNED' | 'TERMINATED';
  openid?: string | undefined;
  signed_at?: string | undefined;
  terminated_at?: string | undefined;
  termination_mode?: string | undefined;
  expired_time?: string | undefined;
}

/** `/papay/querycontract` by contract_id (no nonce_str: none is documented); undefined when WeChat knows none. */
async function queryContract(merchant: MerchantContext, contractId: string, purpose: WechatCallPurpose): Promise<QueriedContract | undefined> {
  const data = (
    await client(merchant).post(
      QUERY_CONTRACT_PATH,
      { appid: merchant.appid, contract_id: contractId, version: '1.0' },
      { budgetMs: wechatBudgetMs(purpose), nonce: false },
    )
  ).data;
  if (data['result_code'] !== 'SUCCESS') {
    if (data['err_code'] === 'CONTRACT_NOT_EXIST') return undefined;
    throw new ServiceError(502, data['err_code'] ?? 'WECHATPAY_REJECTED', data['err_code_des'] ?? 'querycontract refused');
  }
  if (data['contract_id'] !== contractId || data['mch_id'] !== merchant.mchid) throw new MalformedResponseError('querycontract answered for another contract', 200);
  return readQueried(data);
}

/** A `/papay/querycontract` answer (`result_code SUCCESS`) in our words. */
function readQueried(data: Record<string, string>): QueriedContract {
  return {
    contract_code: data['contract_code'] ?? '',
    plan_id: data['plan_id'] ?? '',
    // 0 = signed; 1 = not signed / ended (9, "signing", is treated as not yet signed).
    state: data['contract_state'] === '0' ? 'SIGNED' : 'TERMINATED',
    openid: data['openid'] || undefined,
    signed_at: data['contract_signed_time'] || undefined,
    terminated_at: data['contract_terminated_time'] || undefined,
    termination_mode: data['contract_termination_mode'] || undefined,
    expired_time: data['contract_expired_time'] || undefined,
  };
}

/** Applies what the query says to our code record, forward only, bound by merchant, code and plan. */
async function applyQueried(rt: Runtime, merchant: MerchantContext, contractId: string, q: QueriedContract): Promise<void> {
  const to = q.state;
  const outcome = await applyTransition<ContractCodeRecord>(rt.dynamo, rt.config.tableName, {
    key: keys.contractCode(q.contract_code),
    to,
    from: CONTRACT_FORWARD_FROM[to],
    eventId: `query:${contractId}:${to}`,
    now: rt.now(),
    expect: { kind: 'CONTRACT_CODE', mchid: merchant.mchid, plan_id: q.plan_id },
    set: {
      contract_id: contractId,
      openid: q.openid,
      signed_at: q.signed_at,
      terminated_at: q.terminated_at,
      contract_termination_mode: q.termination_mode,
      contract_expired_time: q.expired_time,
    },
  });
  if (outcome.kind !== 'unknown' && outcome.kind !== 'mismatch' && isIndexedContractState(outcome.record.state)) {
    await indexContract(rt, contractId, q.contract_code, outcome.record.state);
  }
}

/**
 * `GET /papay-contracts/{contract_id}`: our record. One we have not heard of yet (the contract notification is late)
 * is looked up with `/papay/querycontract` inside the GET's budget and, when its contract_code is ours, recorded.
 */
export async function getPapayContract(rt: Runtime, contractIdParam: string | undefined): Promise<PapayContractView> {
  const contractId = checkId(contractIdParam);
  const known = await contractById(rt, contractId);
  if (known) return toContractView(known);
  const merchant = await rt.merchants.get('direct');
  let queried: QueriedContract | undefined;
  try {
    queried = await queryContract(merchant, contractId, 'confirm');
  } catch (error) {
    logger.warn('contract query failed', { contract_id: contractId, error: error instanceof Error ? error.name : 'unknown' });
    throw notFound(`papay contract ${contractId}`);
  }
  const code = queried ? await rt.claims.get<ContractCodeRecord>(keys.contractCode(queried.contract_code)) : undefined;
  if (!queried || !code || code.mchid !== merchant.mchid) throw notFound(`papay contract ${contractId}`);
  await applyQueried(rt, merchant, contractId, queried);
  return toContractView((await rt.claims.get<ContractCodeRecord>(keys.contractCode(queried.contract_code)))!);
}

/**
 * `POST /papay-contracts/{contract_id}/terminate` (`/papay/deletecontract`). Idempotent: an ended contract is
 * answered as it is. WeChat's DELETE notification that follows is applied once (the state is already TERMINATED).
 */
export async function terminatePapayContract(rt: Runtime, contractIdParam: string | undefined, body: unknown): Promise<PapayContractView> {
  const contractId = checkId(contractIdParam);
  const { reason } = validate(terminateContractSchema, body);
  const record = await contractById(rt, contractId);
  if (!record) throw notFound(`papay contract ${contractId}`);
  if (record.state === 'TERMINATED') return toContractView(record);
  if (record.state !== 'SIGNED') throw conflict('CONTRACT_NOT_SIGNED', `papay contract ${contractId} is ${record.state}, not signed`);
  const merchant = await rt.merchants.get('direct');
  let data: Record<string, string>;
  try {
    data = (
      await client(merchant).post(
        DELETE_CONTRACT_PATH,
        { appid: merchant.appid, contract_id: contractId, contract_termination_remark: reason, version: '1.0' },
        { budgetMs: wechatBudgetMs('call'), nonce: false },
      )
    ).data;
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) throw unavailable('WeChat Pay did not answer the termination; send it again (it is idempotent)');
    if (error instanceof WechatPayV2ReturnError) throw new ServiceError(502, 'WECHATPAY_RETURN_FAIL', `WeChat Pay did not accept the call: ${error.returnMsg || error.returnCode}`);
    throw error;
  }
  if (data['result_code'] !== 'SUCCESS') {
    // Already ended at WeChat (by the user, say): the query says so, and we record it.
    const queried = await queryContract(merchant, contractId, 'confirm').catch(() => undefined);
    if (queried?.state === 'TERMINATED') {
      await applyQueried(rt, merchant, contractId, queried);
      return toContractView((await contractById(rt, contractId))!);
    }
    const code = data['err_code'] ?? 'WECHATPAY_REJECTED';
    throw new ServiceError(422, code, data['err_code_des'] || code, { wechatpay: { err_code: code, err_code_des: data['err_code_des'] } });
  }
  await applyTransition<ContractCodeRecord>(rt.dynamo, rt.config.tableName, {
    key: keys.contractCode(record.contract_code),
    to: 'TERMINATED',
    from: CONTRACT_FORWARD_FROM.TERMINATED,
    eventId: `terminate:${contractId}`,
    now: rt.now(),
    // 3 = ended by the merchant through the API (WeChat's termination modes).
    set: { contract_termination_mode: '3', terminated_at: new Date(rt.now()).toISOString() },
  });
  await indexContract(rt, contractId, record.contract_code, 'TERMINATED');
  logger.info('papay contract terminated', { contract_id: contractId });
  return toContractView((await contractById(rt, contractId))!);
}

/**
 * After `CONTRACT_CODE DUPLICATION` ("already signed"): ask WeChat what that code is before anything else is decided
 * (papay checklist #20). A contract signed under our merchant and plan is recorded on our code record (forward
 * only) and indexed by its contract_id, so it can be charged; anything else changes nothing. Best effort: a query
 * that fails leaves the refusal as it is.
 */
export async function recoverContractByCode(rt: Runtime, merchant: MerchantContext, planId: string, contractCode: string): Promise<string | undefined> {
  try {
    const data = (
      await client(merchant).post(
        QUERY_CONTRACT_PATH,
        { appid: merchant.appid, plan_id: planId, contract_code: contractCode, version: '1.0' },
        { budgetMs: wechatBudgetMs('confirm'), nonce: false },
      )
    ).data;
    const contractId = data['contract_id'];
    if (data['result_code'] !== 'SUCCESS' || !contractId || data['contract_code'] !== contractCode || data['mch_id'] !== merchant.mchid) return undefined;
    const queried = readQueried({ plan_id: planId, ...data });
    await applyQueried(rt, merchant, contractId, queried);
    logger.info('contract found after CONTRACT_CODE DUPLICATION', { contract_code: contractCode, contract_id: contractId, state: queried.state });
    return contractId;
  } catch (error) {
    logger.warn('contract query after duplication failed', { contract_code: contractCode, error: error instanceof Error ? error.name : 'unknown' });
    return undefined;
  }
}

/**
 * `GET /papay-contracts/by-code/{contract_code}`: the same contract by our own code (the pay-and-sign request's),
 * including one not signed yet (`PENDING`) or refused; a signed one WeChat has not told us about is asked for with
 * `/papay/querycontract` by plan and code.
 */
export async function getPapayContractByCode(rt: Runtime, contractCode: string | undefined): Promise<PapayContractView> {
  if (!contractCode || !CONTRACT_CODE.test(contractCode)) {
    throw new RequestValidationError([{ field: 'contract_code', message: 'must be 1-64 digits or letters' }]);
  }
  let record = await rt.claims.get<ContractCodeRecord>(keys.contractCode(contractCode));
  if (!record || record.kind !== 'CONTRACT_CODE' || record.state === 'RESERVED') throw notFound(`papay contract ${contractCode}`);
  if (record.state === 'PENDING' || record.state === 'UNCERTAIN' || record.state === 'REJECTED') {
    const merchant = await rt.merchants.get('direct');
    if (await recoverContractByCode(rt, merchant, record.plan_id, contractCode)) {
      record = (await rt.claims.get<ContractCodeRecord>(keys.contractCode(contractCode))) ?? record;
    }
  }
  return toContractView(record);
}
