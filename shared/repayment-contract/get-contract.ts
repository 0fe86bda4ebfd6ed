import { notFound } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { applyContractFacts, queryContract } from './contract-facts';
import { applyRepaymentFacts, queryDeductOrder } from './notification';
import { toView, tokenValid, type RepaymentContractRecord, type RepaymentContractView, type RepaymentRecord } from './record';
import { OUT_CONTRACT_CODE, OUT_CONTRACT_CODE_RULE } from './schema';
import { repaymentsOf } from './repayments';

/** How often a signed contract with details missing is asked about again. */
const RECHECK_AFTER_MS = 60_000;

/**
 * `GET /repayment-contracts/{out_contract_code}`. WeChat tells nobody when a person declines or walks away, so a
 * presign whose token has run out is EXPIRED, and that is confirmed with the query-contract API once (a signing
 * whose notification was lost shows up there instead). A signed contract we know no contract_id of is asked too.
 */
export async function getRepaymentContract(rt: Runtime, code: string | undefined): Promise<RepaymentContractView> {
  if (!code || !OUT_CONTRACT_CODE.test(code)) {
    throw new RequestValidationError([{ field: 'out_contract_code', message: OUT_CONTRACT_CODE_RULE }]);
  }
  const key = keys.repaymentContract(code);
  let record = await rt.claims.get<RepaymentContractRecord>(key);
  // An in-flight or unanswered first call is no contract yet.
  if (!record || record.state === 'PRESIGNING' || record.state === 'UNCERTAIN') throw notFound(`repayment contract ${code}`);

  const expired = record.state === 'PRESIGNED' && !tokenValid(record, rt.now());
  const incomplete =
    (record.state === 'SIGNED' || record.state === 'TERMINATED') &&
    record.contract_id === undefined &&
    rt.now() - (record.last_checked_at ?? 0) >= RECHECK_AFTER_MS;
  if (expired || incomplete || awaitsConfirmation(record)) record = (await confirmWithWechat(rt, record, expired)) ?? record;

  let repayment = record.trade_out_trade_no
    ? await rt.claims.get<RepaymentRecord & Noted>(keys.repayment(record.trade_out_trade_no))
    : undefined;
  if (repayment && repayment.state === 'PENDING' && awaitsConfirmation(repayment)) {
    repayment = (await confirmRepayment(rt, repayment)) ?? repayment;
  }
  const repayments = await repaymentsOf(rt, record);
  return { ...toView(record, repayment, rt.now()), ...(repayments.length > 0 ? { repayments } : {}) };
}

/** Set by a notification we could not complete inside its acknowledgement budget (see notification.ts). */
interface Noted {
  notified_unconfirmed_at?: number;
  last_checked_at?: number;
}

function awaitsConfirmation(record: Noted): boolean {
  return record.notified_unconfirmed_at !== undefined && record.notified_unconfirmed_at > (record.last_checked_at ?? 0);
}

async function confirmRepayment(rt: Runtime, repayment: RepaymentRecord): Promise<RepaymentRecord | undefined> {
  const key = keys.repayment(repayment.out_trade_no);
  try {
    const merchant = await rt.merchants.get('partner');
    const facts = await queryDeductOrder(merchant, repayment.out_trade_no, 'confirm');
    const outcome = facts
      ? await applyRepaymentFacts(rt, repayment.out_trade_no, facts, `query:${facts.order_state ?? 'unknown'}:${repayment.out_trade_no}`, 'query')
      : 'not found';
    await rt.claims.touch(key, { last_checked_at: rt.now() });
    logger.info('repayment confirmed with WeChat', { out_trade_no: repayment.out_trade_no, order_state: facts?.order_state, outcome });
    return await rt.claims.get<RepaymentRecord>(key);
  } catch (error) {
    logger.warn('repayment query failed', { out_trade_no: repayment.out_trade_no, error: error instanceof Error ? error.name : 'unknown' });
    return undefined;
  }
}

export async function confirmWithWechat(rt: Runtime, record: RepaymentContractRecord, expired: boolean): Promise<RepaymentContractRecord | undefined> {
  const code = record.out_contract_code;
  try {
    const merchant = await rt.merchants.get('partner');
    const facts = await queryContract(merchant, code, 'confirm');
    let outcome = 'no contract at WeChat';
    if (facts?.state) {
      outcome = await applyContractFacts(rt, code, facts.state, facts, `query:${facts.state}:${facts.contract_id ?? code}`);
    } else if (expired) {
      outcome = await applyContractFacts(rt, code, 'EXPIRED', {}, 'query:expired');
    }
    // WeChat answered: whatever it said is now known, and a noted notification is confirmed by it.
    await rt.claims.touch(keys.repaymentContract(code), { last_checked_at: rt.now() });
    logger.info('contract confirmed with WeChat', { out_contract_code: code, state: facts?.state ?? 'EXPIRED', outcome });
    return await rt.claims.get<RepaymentContractRecord>(keys.repaymentContract(code));
  } catch (error) {
    // What we computed is still the best answer we have; the next GET asks again.
    logger.warn('contract query failed', { out_contract_code: code, error: error instanceof Error ? error.name : 'unknown' });
    return undefined;
  }
}
