import { notFound } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { keys } from '../store/keys';
import { applyRefundFacts } from './apply';
import { toRefundView, type RefundRecord, type RefundView } from './record';
import { OUT_REFUND_NO } from './schema';
import { queryRefund } from './wechat';

/**
 * `GET /refunds/{out_refund_no}`: the stored refund. One still PROCESSING (or UNCERTAIN) after the configured age
 * is first confirmed with its protocol's refund query, inside the GET's short budget: when WeChat does not answer
 * in time the stored state is the answer.
 */
export async function getRefund(rt: Runtime, outRefundNo: string | undefined): Promise<RefundView> {
  if (!outRefundNo || !OUT_REFUND_NO.test(outRefundNo)) {
    throw new RequestValidationError([{ field: 'out_refund_no', message: 'must be 1-64 characters of 0-9 A-Z a-z _ - | * @' }]);
  }
  const key = keys.refund(outRefundNo);
  let record = await rt.claims.get<RefundRecord>(key);
  if (!record || record.state === 'CREATING') throw notFound(`refund ${outRefundNo}`);
  if (needsConfirmation(rt, record)) record = (await confirm(rt, record)) ?? record;
  return toRefundView(record);
}

function needsConfirmation(rt: Runtime, record: RefundRecord): boolean {
  if (record.state !== 'PROCESSING' && record.state !== 'UNCERTAIN' && record.state !== 'ABNORMAL') return false;
  const minAgeMs = rt.config.refundQueryAfterSeconds * 1000;
  return rt.now() - record.created_at >= minAgeMs && rt.now() - (record.last_checked_at ?? 0) >= minAgeMs;
}

/** The refund query applied like a notification; undefined when WeChat gave no answer (GET and recovery sweeper). */
export async function confirm(rt: Runtime, record: RefundRecord): Promise<RefundRecord | undefined> {
  const merchant = await rt.merchants.get('direct');
  const answer = await queryRefund(merchant, record, 'confirm');
  if (answer.kind === 'no_answer') {
    logger.warn('refund query failed', { out_refund_no: record.out_refund_no });
    return undefined;
  }
  await rt.claims.touch(keys.refund(record.out_refund_no), { last_checked_at: rt.now() });
  // Not found after a lost answer most likely means never accepted, but WeChat does not promise it is visible at
  // once: the amount stays reserved and the identical request (or the sweeper) settles it.
  if (answer.kind === 'not_found') return rt.claims.get<RefundRecord>(keys.refund(record.out_refund_no));
  const outcome = await applyRefundFacts(
    rt,
    record.out_refund_no,
    { ...answer.facts, out_trade_no: answer.facts.out_trade_no ?? record.out_trade_no, mchid: answer.facts.mchid ?? record.mchid },
    `query:${answer.facts.refund_id ?? record.out_refund_no}:${answer.facts.status}`,
  );
  logger.info('refund confirmed with WeChat', { out_refund_no: record.out_refund_no, status: answer.facts.status, outcome });
  return rt.claims.get<RefundRecord>(keys.refund(record.out_refund_no));
}
