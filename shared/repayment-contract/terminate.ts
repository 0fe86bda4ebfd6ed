import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import { RequestValidationError, validate } from '../http/validation';
import { isTransient } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { MalformedResponseError, WechatPayApiError } from '../wechatpay';
import { applyContractFacts, queryContract, readContractFacts, type ContractFacts } from './contract-facts';
import { toView, visibleState, type RepaymentContractRecord, type RepaymentContractView, type RepaymentRecord } from './record';
import { OUT_CONTRACT_CODE, OUT_CONTRACT_CODE_RULE, terminateRepaymentContractSchema } from './schema';
import { TERMINATE_PATH } from './wechat-request';

/**
 * `POST /repayment-contracts/{out_contract_code}/terminate` (partner `contracts/terminate`). Idempotent: a contract
 * already TERMINATED (by us, the user or customer service) is answered as it is. One not in force answers 409 with
 * its state. The TERMINATED state is applied through the same forward-only transition the TERMINATE_CONTRACT
 * notification uses, so the notification that follows (or one that raced us) changes nothing twice. When WeChat's
 * answer is lost, or WeChat refuses (a second terminate, a contract ended meanwhile), the query-contract API decides.
 */
export async function terminateRepaymentContract(rt: Runtime, code: string | undefined, body: unknown): Promise<RepaymentContractView> {
  if (!code || !OUT_CONTRACT_CODE.test(code)) throw new RequestValidationError([{ field: 'out_contract_code', message: OUT_CONTRACT_CODE_RULE }]);
  const { remark } = validate(terminateRepaymentContractSchema, body);
  const record = await rt.claims.get<RepaymentContractRecord>(keys.repaymentContract(code));
  if (!record || record.state === 'PRESIGNING' || record.state === 'UNCERTAIN') throw notFound(`repayment contract ${code}`);
  if (record.state === 'TERMINATED') return view(rt, record);
  if (record.state !== 'SIGNED') {
    const state = visibleState(record, rt.now()) ?? record.state;
    throw conflict('CONTRACT_NOT_IN_FORCE', `repayment contract ${code} is ${state}; only a signed contract can be terminated`);
  }

  const merchant = await rt.merchants.get('partner');
  let answered: ContractFacts | undefined;
  try {
    const response = await merchant.v3.request<{ contract_info?: unknown }>({
      method: 'POST',
      path: TERMINATE_PATH,
      body: { out_contract_code: code, contract_termination_remark: remark },
      budgetMs: wechatBudgetMs('call'),
    });
    // 200 with the contract (OPENAPI) or 204 (unconfirmed): either is WeChat's word that it is ended.
    answered = { mchid: merchant.mchid, ...readContractFacts(response.data?.contract_info), state: 'TERMINATED' };
  } catch (error) {
    const lost = isTransient(error) || error instanceof MalformedResponseError;
    if (!lost && !(error instanceof WechatPayApiError && error.status >= 400 && error.status < 500 && error.status !== 401)) throw error;
    logger.warn('terminate not confirmed; asking WeChat', { out_contract_code: code, error: error instanceof WechatPayApiError ? error.code : error instanceof Error ? error.name : 'unknown' });
    const facts = await queryContract(merchant, code, 'confirm').catch(() => undefined);
    if (facts?.state === 'TERMINATED') answered = facts;
    else if (lost) throw unavailable('WeChat Pay did not confirm the termination; send it again (terminating is idempotent)');
    else {
      const e = error as WechatPayApiError;
      throw new ServiceError(422, e.code, e.message, { wechatpay: { status: e.status, code: e.code, message: e.message } });
    }
  }
  const facts: ContractFacts = {
    contract_terminated_mode: 'TERMINATION_MODE_BY_MERCHANT',
    contract_termination_remark: remark,
    contract_terminated_time: new Date(rt.now()).toISOString(),
    ...answered,
  };
  await applyContractFacts(rt, code, 'TERMINATED', facts, `terminate:${code}`);
  logger.info('repayment contract terminated', { out_contract_code: code });
  return view(rt, (await rt.claims.get<RepaymentContractRecord>(keys.repaymentContract(code)))!);
}

async function view(rt: Runtime, record: RepaymentContractRecord): Promise<RepaymentContractView> {
  const repayment = record.trade_out_trade_no ? await rt.claims.get<RepaymentRecord>(keys.repayment(record.trade_out_trade_no)) : undefined;
  return toView(record, repayment, rt.now());
}

