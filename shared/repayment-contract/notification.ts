import type { V3NotificationApplier } from '../notify/v3';
import type { MerchantContext } from '../merchant/context';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { wechatBudgetMs, type WechatCallPurpose } from '../runtime/invocation';
import { keys } from '../store/keys';
import { applyTransition } from '../store/transitions';
import { recordUnmatched } from '../store/unmatched';
import { WechatPayApiError, type OpenedNotification } from '../wechatpay';
import {
  applyContractFacts,
  codeForContractId,
  field,
  maxState,
  mergeFacts,
  PRODUCT,
  queryContract,
  readContractFacts,
  type ContractFacts,
  type WechatContractState,
} from './contract-facts';
import { REPAYMENT_FORWARD_FROM, type RepaymentContractRecord, type RepaymentRecord } from './record';
import { deductOrderQueryPath } from './wechat-request';

export const SIGN_CONTRACT = 'CREDIT_REPAYMENT.SIGN_CONTRACT';
export const TERMINATE_CONTRACT = 'CREDIT_REPAYMENT.TERMINATE_CONTRACT';
export const DEDUCTION_PAY = 'CREDIT_REPAYMENT.DEDUCTION_PAY';

const FINAL_ORDER_STATES: readonly string[] = ['DEDUCT_ORDER_STATE_PAY_SUCCESS', 'DEDUCT_ORDER_STATE_PAY_FAIL'];

export const CONTRACT_EVENT_TYPES = [SIGN_CONTRACT, TERMINATE_CONTRACT] as const;
export const REPAYMENT_EVENT_TYPES = [DEDUCTION_PAY] as const;

/**
 * `CREDIT_REPAYMENT.SIGN_CONTRACT` / `TERMINATE_CONTRACT` at `/notify/repayment-contract`. The event type alone
 * says what happened (signed / terminated); the payload is read for whatever it carries (its field list is not
 * published, docs/wechatpay.md), and when it lacks what we need — which contract, its state, its id, or what binds
 * it to our record (merchant and plan) — the query-contract API fills the gaps, inside the acknowledgement budget.
 *
 * Nothing is applied on an unbound event: when WeChat's query gives no answer in time, the event is noted on the
 * contract (`notified_unconfirmed_at`) and acknowledged; GET (and the recovery sweeper) confirm it with the query.
 *
 * Configure the plan's termination notify URL (解约结果通知URL, set when the plan is applied for) to this route
 * too: terminations go there, not to the presign's contract_notify_url (docs/wechatpay.md).
 */
export function repaymentContractApplier(rt: Runtime): V3NotificationApplier {
  return async (notification, merchant) => {
    const implied: WechatContractState = notification.eventType === TERMINATE_CONTRACT ? 'TERMINATED' : 'SIGNED';
    let facts = readContractFacts(notification.resource);
    const code = facts.out_contract_code ?? (facts.contract_id !== undefined ? await codeForContractId(rt, facts.contract_id) : undefined);
    if (code === undefined) return unmatched(rt, notification, facts.contract_id, 'names no contract we know');

    if (facts.out_contract_code === undefined || facts.state === undefined || facts.contract_id === undefined || unbound(facts).length > 0) {
      const queried = await withinAck(() => queryContract(merchant, code, 'notify'));
      if (queried === NO_ANSWER) return awaitConfirmation(rt, keys.repaymentContract(code), notification);
      if (queried) facts = mergeFacts(queried, facts);
    }
    const missing = unbound(facts);
    if (missing.length > 0) return unmatched(rt, notification, facts.contract_id, `lacks ${missing.join(', ')}: cannot be bound to contract ${code}`);
    const to = maxState(implied, facts.state) ?? implied;
    return applyContractFacts(rt, code, to, facts, notification.id);
  };
}

/** What must be known before a contract event may touch our record: whose contract, under which plan. */
function unbound(facts: ContractFacts): string[] {
  return (['mchid', 'plan_id'] as const).filter((name) => facts[name] === undefined);
}

/**
 * `CREDIT_REPAYMENT.DEDUCTION_PAY` at `/notify/repayment`: the result of the first repayment asked for with the
 * presign (`trade_info`). Found by out_trade_no (else through the contract), bound to our record by merchant and
 * amount — both must be known, from the payload or the deduct-order query — applied once and forward only. A paid
 * repayment also proves the contract was signed, so a lost or late SIGN_CONTRACT cannot leave it looking unsigned.
 */
export function repaymentApplier(rt: Runtime): V3NotificationApplier {
  return async (notification, merchant) => {
    const r = notification.resource;
    let facts: RepaymentFacts = {
      out_trade_no: field(r, 'out_trade_no'),
      contract_id: field(r, 'contract_id'),
      out_contract_code: field(r, 'out_contract_code'),
      order_state: field(r, 'order_state'),
      deduct_amount: amount(field(r, 'deduct_amount')),
      pay_success_amount: amount(field(r, 'pay_success_amount')),
      transaction_id: field(r, 'transaction_id'),
      success_time: field(r, 'success_time'),
      mchid: field(r, 'sp_mchid') ?? field(r, 'mchid'),
      openid: field(r, 'openid') ?? field(r, 'sp_openid'),
    };
    const outTradeNo = facts.out_trade_no ?? (await tradeNoThroughContract(rt, facts));
    if (outTradeNo === undefined) return unmatched(rt, notification, facts.contract_id, 'names no repayment we know');

    if (facts.order_state === undefined || facts.mchid === undefined || billedAmount(facts) === undefined) {
      const queried = await withinAck(() => queryDeductOrder(merchant, outTradeNo, 'notify'));
      if (queried === NO_ANSWER) return awaitConfirmation(rt, keys.repayment(outTradeNo), notification);
      if (queried) facts = { ...queried, ...defined(facts) };
    }
    return applyRepaymentFacts(rt, outTradeNo, facts, notification.id, notification.eventType);
  };
}

/**
 * Moves the repayment `REPAY#<out_trade_no>` to what `facts` say, bound by merchant and amount; shared by the
 * notification and the deduct-order query (GET), so both change the record once.
 */
export async function applyRepaymentFacts(
  rt: Runtime,
  outTradeNo: string,
  facts: RepaymentFacts,
  eventId: string,
  eventType: string,
): Promise<string> {
  // Still pending at WeChat (NOT_PAY, PENDING): nothing to record yet.
  if (facts.order_state !== undefined && !FINAL_ORDER_STATES.includes(facts.order_state)) return 'unchanged';
  // The event is "还款成功" (repayment succeeded): that is what it means when the state is not spelt out.
  const to = facts.order_state === 'DEDUCT_ORDER_STATE_PAY_FAIL' ? 'PAY_FAIL' : 'PAY_SUCCESS';
  const billed = billedAmount(facts);
  const unboundFields = [...(facts.mchid === undefined ? ['mchid'] : []), ...(billed === undefined ? ['deduct_amount'] : [])];
  const outcome =
    unboundFields.length > 0
      ? ({ kind: 'unbound' } as const)
      : await applyTransition<RepaymentRecord>(rt.dynamo, rt.config.tableName, {
          key: keys.repayment(outTradeNo),
          to,
          from: REPAYMENT_FORWARD_FROM[to],
          eventId,
          now: rt.now(),
          // PAY_SUCCESS and PAY_FAIL are final: out of the recovery sweeper's pending index in the same write.
          pending: null,
          expect: { mchid: facts.mchid, deduct_amount: billed },
          set: {
            order_state: facts.order_state,
            transaction_id: facts.transaction_id,
            pay_success_amount: facts.pay_success_amount,
            success_time: facts.success_time,
          },
        });
  if (outcome.kind === 'unknown' || outcome.kind === 'mismatch' || outcome.kind === 'unbound') {
    const reason =
      outcome.kind === 'unknown'
        ? 'no such repayment'
        : outcome.kind === 'unbound'
          ? `lacks ${unboundFields.join(', ')}: cannot be bound to our repayment`
          : `differs in ${outcome.fields.join(', ')}`;
    logger.warn('unmatched repayment event', { product: 'REPAYMENT', out_trade_no: outTradeNo, event_id: eventId, reason });
    await recordUnmatched(rt, 'REPAYMENT', outTradeNo, eventId, {
      reason,
      event_type: eventType,
      order_state: facts.order_state,
      transaction_id: facts.transaction_id,
      contract_id: facts.contract_id,
      mchid: facts.mchid,
      deduct_amount: facts.deduct_amount,
      pay_success_amount: facts.pay_success_amount,
    });
    return outcome.kind === 'unbound' ? 'unmatched' : outcome.kind;
  }
  if (to === 'PAY_SUCCESS' && outcome.kind !== 'duplicate') {
    const contract: ContractFacts = {
      ...(facts.contract_id !== undefined ? { contract_id: facts.contract_id } : {}),
      ...(facts.openid !== undefined ? { openid: facts.openid } : {}),
      ...(facts.mchid !== undefined ? { mchid: facts.mchid } : {}),
    };
    await applyContractFacts(rt, outcome.record.out_contract_code, 'SIGNED', contract, eventId);
  }
  return outcome.kind;
}

function billedAmount(facts: RepaymentFacts): string | undefined {
  return facts.deduct_amount ?? facts.pay_success_amount;
}

const NO_ANSWER = Symbol('no answer from WeChat in time');

/** A query made inside a notification request: no answer in time is an answer of its own, never a wait. */
async function withinAck<T>(query: () => Promise<T>): Promise<T | typeof NO_ANSWER> {
  try {
    return await query();
  } catch (error) {
    logger.warn('query inside a notification gave no answer', { error: error instanceof Error ? error.name : 'unknown' });
    return NO_ANSWER;
  }
}

/**
 * Notes an authentic event we could not complete in time on its record, and acknowledges it: GET (and the
 * recovery sweeper) confirm with WeChat's query and apply what it says. Nothing else on the record changes.
 */
async function awaitConfirmation(rt: Runtime, key: { pk: string; sk: string }, notification: OpenedNotification): Promise<string> {
  // updated_at moves too: a refused code WeChat says something about must not be handed to another request.
  const now = rt.now();
  await rt.claims.touch(key, { notified_unconfirmed_at: now, notified_event_type: notification.eventType, updated_at: now });
  logger.info('notification noted for confirmation', { event_id: notification.id, event_type: notification.eventType });
  return 'deferred';
}

export interface RepaymentFacts {
  out_trade_no?: string | undefined;
  contract_id?: string | undefined;
  out_contract_code?: string | undefined;
  order_state?: string | undefined;
  deduct_amount?: string | undefined;
  pay_success_amount?: string | undefined;
  transaction_id?: string | undefined;
  success_time?: string | undefined;
  mchid?: string | undefined;
  openid?: string | undefined;
}

/** Fen as our records keep them: a string of digits without leading zeros. */
function amount(value: string | undefined): string | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return value;
  return BigInt(value).toString();
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function tradeNoThroughContract(rt: Runtime, facts: RepaymentFacts): Promise<string | undefined> {
  const code = facts.out_contract_code ?? (facts.contract_id !== undefined ? await codeForContractId(rt, facts.contract_id) : undefined);
  if (code === undefined) return undefined;
  const contract = await rt.claims.get<RepaymentContractRecord>(keys.repaymentContract(code));
  return contract?.trade_out_trade_no;
}

/**
 * `GET /v3/credit-repayment/partner/deduct-orders/{out_trade_no}`; undefined when WeChat has no such order.
 * Our own signed question, answered under WeChat's signature: it speaks for our merchant.
 */
export async function queryDeductOrder(merchant: MerchantContext, outTradeNo: string, purpose: WechatCallPurpose): Promise<RepaymentFacts | undefined> {
  try {
    const response = await merchant.v3.request<unknown>({ method: 'GET', path: deductOrderQueryPath(outTradeNo), budgetMs: wechatBudgetMs(purpose) });
    const d = response.data;
    return defined({
      mchid: merchant.mchid,
      out_trade_no: field(d, 'out_trade_no'),
      contract_id: field(d, 'contract_id'),
      order_state: field(d, 'order_state'),
      deduct_amount: amount(field(d, 'deduct_amount')),
      pay_success_amount: amount(field(d, 'pay_success_amount')),
      transaction_id: field(d, 'transaction_id'),
      openid: field(d, 'openid'),
    });
  } catch (error) {
    if (error instanceof WechatPayApiError && error.status === 404) return undefined;
    throw error;
  }
}

async function unmatched(rt: Runtime, notification: OpenedNotification, contractId: string | undefined, reason: string): Promise<string> {
  logger.warn('unmatched credit-repayment event', { event_id: notification.id, event_type: notification.eventType, reason });
  await recordUnmatched(rt, PRODUCT, contractId ?? 'unknown', notification.id, {
    reason,
    event_type: notification.eventType,
    contract_id: contractId,
  });
  return 'unknown';
}
