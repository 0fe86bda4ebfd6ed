import { ConditionalCheckFailedException, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { MerchantContext } from '../merchant/context';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { toAttributes, type Item } from '../store/items';
import { keys } from '../store/keys';
import { applyTransition, type TransitionOutcome } from '../store/transitions';
import { recordUnmatched } from '../store/unmatched';
import { WechatPayApiError } from '../wechatpay';
import { FORWARD_FROM, type RepaymentContractRecord } from './record';
import { contractQueryPath } from './wechat-request';
import { wechatBudgetMs, type WechatCallPurpose } from '../runtime/invocation';

export const PRODUCT = 'REPAYMENT_CONTRACT';

/** The states WeChat can tell us about a contract, in the order they happen. */
export type WechatContractState = 'SIGNED' | 'TERMINATED';

/**
 * What a contract notification or the query-contract API says about a contract. Every field is optional: the
 * notification field tables were not available (docs/wechatpay.md, readings), so nothing is assumed to be there.
 */
export interface ContractFacts {
  out_contract_code?: string;
  contract_id?: string;
  state?: WechatContractState;
  mchid?: string;
  appid?: string;
  plan_id?: string;
  openid?: string;
  contract_signed_time?: string;
  contract_terminated_time?: string;
  contract_terminated_mode?: string;
  contract_termination_remark?: string;
}

/** A non-empty string, or a number as text (WeChat's types vary between pages): anything else counts as absent. */
export function field(source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const value = (source as Record<string, unknown>)[name];
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const CONTRACT_STATES: Record<string, WechatContractState> = {
  CONTRACT_STATE_EFFECTIVE: 'SIGNED',
  CONTRACT_STATE_TERMINATED: 'TERMINATED',
};

export function readContractFacts(resource: unknown): ContractFacts {
  const raw = field(resource, 'contract_state');
  const facts: ContractFacts = {
    out_contract_code: field(resource, 'out_contract_code'),
    contract_id: field(resource, 'contract_id'),
    state: raw === undefined ? undefined : CONTRACT_STATES[raw],
    // A partner payload may name the service provider sp_mchid / sp_appid (as papay's does).
    mchid: field(resource, 'sp_mchid') ?? field(resource, 'mchid'),
    appid: field(resource, 'sp_appid') ?? field(resource, 'appid'),
    plan_id: field(resource, 'plan_id'),
    openid: field(resource, 'openid') ?? field(resource, 'sp_openid'),
    contract_signed_time: field(resource, 'contract_signed_time'),
    contract_terminated_time: field(resource, 'contract_terminated_time'),
    contract_terminated_mode: field(resource, 'contract_terminated_mode') ?? field(resource, 'contract_termination_mode'),
    contract_termination_remark: field(resource, 'contract_termination_remark'),
  };
  return Object.fromEntries(Object.entries(facts).filter(([, v]) => v !== undefined)) as ContractFacts;
}

/** `later` wins where both speak; a state never goes backward. */
export function mergeFacts(first: ContractFacts, later: ContractFacts): ContractFacts {
  return { ...first, ...later, ...(maxState(first.state, later.state) ? { state: maxState(first.state, later.state) } : {}) };
}

export function maxState(a: WechatContractState | undefined, b: WechatContractState | undefined): WechatContractState | undefined {
  if (a === 'TERMINATED' || b === 'TERMINATED') return 'TERMINATED';
  return a ?? b;
}

/**
 * `GET /v3/credit-repayment/partner/contracts/{out_contract_code}`. `undefined` when WeChat has no such contract
 * (a presign that was declined, expired or never acted on creates none). Throws when WeChat gave no answer.
 */
export async function queryContract(merchant: MerchantContext, code: string, purpose: WechatCallPurpose): Promise<ContractFacts | undefined> {
  try {
    const response = await merchant.v3.request<unknown>({ method: 'GET', path: contractQueryPath(code), budgetMs: wechatBudgetMs(purpose) });
    // Our own signed question about our own code, answered under WeChat's signature: it speaks for our merchant.
    const facts = { mchid: merchant.mchid, ...readContractFacts(response.data) };
    // A contract WeChat lists but calls CONTRACT_STATE_INVALID was never in force: no more than "no contract".
    return facts.state === undefined ? undefined : facts;
  } catch (error) {
    if (error instanceof WechatPayApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** The out_contract_code WeChat's contract_id belongs to (learnt when the contract was signed). */
export async function codeForContractId(rt: Runtime, contractId: string): Promise<string | undefined> {
  const pointer = await rt.claims.get<{ out_contract_code?: string }>(keys.repaymentContractId(contractId));
  return pointer?.out_contract_code;
}

/** Written once: a contract_id never changes hands, so redeliveries leave the pointer alone. */
async function rememberContractId(rt: Runtime, contractId: string, code: string): Promise<void> {
  try {
    await rt.dynamo.send(
      new PutItemCommand({
        TableName: rt.config.tableName,
        Item: toAttributes({
          ...keys.repaymentContractId(contractId),
          kind: 'REPAYMENT_CONTRACT_ID',
          contract_id: contractId,
          out_contract_code: code,
          created_at: rt.now(),
        }),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/** Binds an event to our record by what it says (when it says it): the service provider, the app, the plan. */
function binding(facts: ContractFacts): Item {
  return {
    ...(facts.mchid !== undefined ? { mchid: facts.mchid } : {}),
    ...(facts.appid !== undefined ? { appid: facts.appid } : {}),
    ...(facts.plan_id !== undefined ? { plan_id: facts.plan_id } : {}),
  };
}

function details(facts: ContractFacts): Item {
  return {
    contract_id: facts.contract_id,
    openid: facts.openid,
    contract_signed_time: facts.contract_signed_time,
    contract_terminated_time: facts.contract_terminated_time,
    contract_terminated_mode: facts.contract_terminated_mode,
    contract_termination_remark: facts.contract_termination_remark,
  };
}

export type ApplyOutcome = TransitionOutcome<RepaymentContractRecord>['kind'];

/**
 * Moves contract `code` forward to `to` (never backward), recording `eventId` once and the contract's details.
 * An event that arrives after a later one (a SIGN after its TERMINATE) still fills in the details it carries.
 * An authentic event we cannot match is kept and flagged, never dropped.
 */
export async function applyContractFacts(
  rt: Runtime,
  code: string,
  to: WechatContractState | 'EXPIRED',
  facts: ContractFacts,
  eventId: string,
  extra: Item = {},
): Promise<ApplyOutcome> {
  const key = keys.repaymentContract(code);
  const expect = binding(facts);
  const set = { ...details(facts), ...extra };
  const outcome = await applyTransition<RepaymentContractRecord>(rt.dynamo, rt.config.tableName, {
    key,
    to,
    from: FORWARD_FROM[to],
    eventId,
    now: rt.now(),
    // Signed, terminated or expired: nothing more for the recovery sweeper to ask.
    pending: null,
    expect,
    set,
  });
  // A duplicate was applied in full the first time; a late event (SIGN after TERMINATE) may still add details.
  if (outcome.kind === 'superseded') await fillMissing(rt, key, missingFrom(outcome.record, set), expect);
  if (outcome.kind === 'unknown' || outcome.kind === 'mismatch') {
    const reason = outcome.kind === 'unknown' ? 'no such contract' : `differs in ${outcome.fields.join(', ')}`;
    logger.warn('unmatched contract event', { product: PRODUCT, out_contract_code: code, event_id: eventId, reason });
    await recordUnmatched(rt, PRODUCT, code, eventId, {
      reason,
      state: to,
      contract_id: facts.contract_id,
      mchid: facts.mchid,
      appid: facts.appid,
      plan_id: facts.plan_id,
    });
  } else if (facts.contract_id !== undefined && outcome.kind !== 'duplicate') {
    await rememberContractId(rt, facts.contract_id, code);
  }
  return outcome.kind;
}

function missingFrom(record: Item, set: Item): Item {
  return Object.fromEntries(Object.entries(set).filter(([name, value]) => value !== undefined && record[name] === undefined));
}

/** Sets the attributes the record does not have yet, without touching its state. */
async function fillMissing(rt: Runtime, key: { pk: string; sk: string }, set: Item, expect: Item): Promise<void> {
  const entries = Object.entries(set).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return;
  const names: Record<string, string> = {};
  const values: Item = {};
  const parts = entries.map(([name, value], i) => {
    names[`#f${i}`] = name;
    values[`:f${i}`] = value;
    return `#f${i} = if_not_exists(#f${i}, :f${i})`;
  });
  const conditions = ['attribute_exists(pk)'];
  Object.entries(expect).forEach(([name, value], i) => {
    names[`#x${i}`] = name;
    values[`:x${i}`] = value;
    conditions.push(`#x${i} = :x${i}`);
  });
  try {
    await rt.dynamo.send(
      new UpdateItemCommand({
        TableName: rt.config.tableName,
        Key: toAttributes({ ...key }),
        UpdateExpression: `SET ${parts.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: toAttributes(values),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
