import { closeAtWechat, MIN_CLOSE_AGE_MS } from '../contract-order/close-order';
import { conflict, notFound, ServiceError, unavailable } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { applyTransition } from '../store/transitions';
import { applyDeductionResult, queryDeduction } from './deductions';
import { DEDUCTION_FORWARD_FROM, toDeductionView, type DeductionRecord, type DeductionView } from './record';

const charged = (outTradeNo: string) =>
  conflict('DEDUCTION_PAID', `deduction ${outTradeNo} was charged and cannot be closed; refund it instead (POST /refunds)`);

/**
 * `POST /deductions/{out_trade_no}/close` (`/pay/closeorder`): what papay checklist #15 asks before a new number may
 * be used for a deduction whose outcome is not known (SYSTEMERROR, a lost answer, a silent failure). The order is
 * queried first — it may have been charged or closed meanwhile — and closed only if it is neither. Idempotent: a
 * CLOSED deduction is answered as it is. Once CLOSED, nothing can be charged under this number: the caller may try
 * again under a new one.
 */
export async function closeDeduction(rt: Runtime, outTradeNo: string | undefined): Promise<DeductionView> {
  if (!outTradeNo || !/^[0-9A-Za-z_\-|*]{6,32}$/.test(outTradeNo)) {
    throw new RequestValidationError([{ field: 'out_trade_no', message: 'must be 6-32 characters of 0-9 A-Z a-z _ - | *' }]);
  }
  const key = keys.deduction(outTradeNo);
  const record = await rt.claims.get<DeductionRecord>(key);
  if (!record || record.kind !== 'DEDUCTION' || record.state === 'CREATING') throw notFound(`deduction ${outTradeNo}`);
  if (record.state === 'SUCCESS') throw charged(outTradeNo);
  if (record.state === 'CLOSED') return toDeductionView(record);
  if (record.state === 'REJECTED') {
    throw conflict('DEDUCTION_NOT_CREATED', `deduction ${outTradeNo} was refused by WeChat Pay; nothing was accepted, so there is nothing to close`);
  }

  const merchant = await rt.merchants.get('direct');
  // Ask before closing (#15): a charge or an automatic close may have happened without a word to us.
  const queried = await queryDeduction(merchant, outTradeNo, 'call');
  if (queried) {
    await applyDeductionResult(rt, queried, `query:${outTradeNo}:${queried.trade_state}`);
    const now = await rt.claims.get<DeductionRecord>(key);
    if (now?.state === 'SUCCESS') throw charged(outTradeNo);
    if (now?.state === 'CLOSED') return toDeductionView(now);
  }
  const waitMs = record.created_at + MIN_CLOSE_AGE_MS - rt.now();
  if (waitMs > 0) {
    throw new ServiceError(429, 'CLOSE_TOO_EARLY', 'WeChat Pay closes an order no earlier than 5 minutes after it was made', {
      retryAfterSeconds: Math.ceil(waitMs / 1000),
    });
  }

  const { errCode, data } = await closeAtWechat(merchant, record.appid, outTradeNo);
  logger.info('deduction close answered', { out_trade_no: outTradeNo, err_code: errCode ?? 'none' });
  if (errCode === 'ORDERPAID') {
    const paid = await queryDeduction(merchant, outTradeNo, 'confirm');
    if (paid) await applyDeductionResult(rt, paid, `query:${outTradeNo}:${paid.trade_state}`);
    throw charged(outTradeNo);
  }
  // ORDERNOTEXIST after 5 minutes: WeChat holds no order under this number, so nothing can be charged under it.
  if (errCode !== undefined && errCode !== 'ORDERCLOSED' && errCode !== 'ORDERNOTEXIST') {
    throw new ServiceError(422, errCode, data['err_code_des'] || errCode, { wechatpay: { result_code: data['result_code'], err_code: errCode, err_code_des: data['err_code_des'] } });
  }
  await applyTransition<DeductionRecord>(rt.dynamo, rt.config.tableName, {
    key,
    to: 'CLOSED',
    from: DEDUCTION_FORWARD_FROM.CLOSED,
    eventId: `close:${outTradeNo}`,
    now: rt.now(),
    pending: null,
    set: { closed_at: rt.now(), ...(errCode ? { close_note: errCode } : {}) },
  });
  const after = (await rt.claims.get<DeductionRecord>(key))!;
  // Charged meanwhile (the result notification won the race): the charge, not a close.
  if (after.state === 'SUCCESS') throw charged(outTradeNo);
  if (after.state !== 'CLOSED') throw unavailable('the deduction changed while it was being closed; send the close again');
  return toDeductionView(after);
}
