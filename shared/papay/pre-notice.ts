import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import { validate } from '../http/validation';
import { isTransient } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { parseWechatTime } from '../http/time';
import { keys } from '../store/keys';
import { WechatPayApiError } from '../wechatpay';
import { contractById } from './contracts';
import { inDeductionWindow } from './deductions';
import { preDeductionNoticeSchema } from './schema';

/** WeChat charges a contract signed (or re-signed) less than this ago at once, without any notice (checklist #19). */
export const FIRST_SIGNING_EXEMPTION_MS = 12 * 3600 * 1000;

export interface PreNoticeAnswer {
  contract_id: string;
  sent: boolean;
  /** Why nothing was sent, when it was not. */
  reason?: string;
  estimated_amount: number;
  deduct_days: number;
}

/**
 * `POST /papay-contracts/{contract_id}/pre-deduction-notice`: APIv3 `POST /v3/papay/contracts/{contract_id}/notify`,
 * signed with the merchant's APIv3 credentials, never the APIv2 key (checklist #18, #27). 07:00–22:00 Beijing time
 * only (#9). Within 12 hours of the signing WeChat charges without a notice, so none is sent (#19). The same notice
 * again (RESOURCE_ALREADY_EXISTS) counts as sent.
 */
export async function sendPreDeductionNotice(rt: Runtime, contractIdParam: string | undefined, body: unknown): Promise<PreNoticeAnswer> {
  const input = validate(preDeductionNoticeSchema, body);
  const contractId = contractIdParam ?? '';
  const contract = await contractById(rt, contractId);
  if (!contract) throw notFound(`papay contract ${contractId}`);
  if (contract.state !== 'SIGNED') throw conflict('CONTRACT_NOT_SIGNED', `papay contract ${contractId} is ${contract.state}, not signed`);
  const days = input.deduct_days ?? 1;
  const answer = { contract_id: contractId, estimated_amount: input.estimated_amount, deduct_days: days };
  const signedAt = contract.signed_at ? parseWechatTime(contract.signed_at) : undefined;
  if (signedAt !== undefined && rt.now() - signedAt < FIRST_SIGNING_EXEMPTION_MS) {
    return { ...answer, sent: false, reason: 'signed less than 12 hours ago: WeChat charges at once without a pre-deduction notice' };
  }
  if (!inDeductionWindow(rt.now())) {
    throw new ServiceError(422, 'OUTSIDE_NOTICE_WINDOW', 'WeChat takes pre-deduction notices 07:00–22:00 Beijing time only; send it again inside the window');
  }
  const merchant = await rt.merchants.get('direct');
  try {
    await merchant.v3.request({
      method: 'POST',
      path: `/v3/papay/contracts/${encodeURIComponent(contractId)}/notify`,
      body: JSON.stringify({
        mchid: merchant.mchid,
        appid: merchant.appid,
        deduct_duration: { count: days, unit: 'DAY' },
        estimated_amount: { amount: input.estimated_amount, currency: 'CNY' },
      }),
      budgetMs: wechatBudgetMs('call'),
    });
  } catch (error) {
    if (isTransient(error)) throw unavailable('WeChat Pay did not answer the notice; send it again (the same notice is accepted once)');
    if (!(error instanceof WechatPayApiError) || error.code !== 'RESOURCE_ALREADY_EXISTS') {
      if (error instanceof WechatPayApiError) {
        throw new ServiceError(error.status === 401 ? 502 : 422, error.code, error.message, { wechatpay: { status: error.status, code: error.code, message: error.message } });
      }
      throw error;
    }
  }
  await rt.claims.touch(keys.contractCode(contract.contract_code), { pre_notice_amount: input.estimated_amount, pre_notice_at: rt.now() });
  logger.info('pre-deduction notice sent', { contract_id: contractId });
  return { ...answer, sent: true };
}
