import { pendingAttributes } from '../store/pending';
import { REFUND_PRODUCT } from './apply';
import { conflict, ServiceError } from '../http/errors';
import { validate } from '../http/validation';
import type { MerchantContext } from '../merchant/context';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { countRefundOutcome } from '../runtime/metrics';
import { isLeased, type Fingerprint } from '../store/claims';
import { keys } from '../store/keys';
import { changeRefund, REFUND_WINDOW_MS, reserveRefund, type PaidOrder } from './ledger';
import { findPaidOrder } from './orders';
import { toRefundView, type RefundRecord, type RefundRefusal, type RefundState, type RefundView } from './record';
import { createRefundSchema, type CreateRefundInput } from './schema';
import { requestV2Refund, requestV3Refund, type RefundCallOutcome } from './wechat';

/** Longer than the worst WeChat call a Lambda lets us make, so the lease outlives it. */
const LEASE_MS = 30_000;
/** Refund records outlive the order's refund window and any dispute after it. */
const RETENTION_SECONDS = 400 * 24 * 3600;
/** The states our own call decides from; anything a notification reported stays. */
const CALL_FROM: readonly RefundState[] = ['CREATING', 'UNCERTAIN'];

export interface CreateRefundResult {
  refund: RefundView;
  replayed: boolean;
}

/**
 * `POST /refunds`. out_refund_no is the idempotency key (WeChat's own: "one number refunds at most once"):
 * - same request again → the stored answer without a call; while UNCERTAIN (answer lost) the identical request is
 *   sent again, as WeChat requires; a different request for the number → 409;
 * - the amount is reserved on the order before WeChat is called (see ledger.ts), so concurrent refunds can never
 *   add up to more than was paid; WeChat's limits (a year, 50 refunds, the interval) are refused before calling it.
 */
export async function createRefund(rt: Runtime, body: unknown): Promise<CreateRefundResult> {
  const input = validate(createRefundSchema, body);
  const merchant = await rt.merchants.get('direct');
  const fingerprint = merchant.fingerprint(
    `refund/v1\n${JSON.stringify([input.out_trade_no, input.out_refund_no, input.amount.refund, input.reason ?? null])}`,
  );
  const key = keys.refund(input.out_refund_no);

  // The common case first: a new number. The reservation's own condition tells us when the number exists.
  const order = await findPaidOrder(rt, input.out_trade_no).catch((error: unknown) => error);
  for (let round = 0; round < 4; round += 1) {
    const existing = round === 0 && !(order instanceof Error) ? undefined : await rt.claims.get<RefundRecord>(key);
    if (!existing) {
      if (order instanceof Error) throw order;
      checkRefundable(rt, merchant, order as PaidOrder);
      const draft = { ...draftRecord(input, order as PaidOrder, fingerprint, rt.now()), ...pendingAttributes(REFUND_PRODUCT, rt.now() + rt.config.refundQueryAfterSeconds * 1000) };
      const reserved = await reserveRefund(rt, order as PaidOrder, draft, LEASE_MS);
      if (reserved.kind === 'exists') continue;
      const claimed = { ...draft, claim_status: 'PENDING', lease_token: reserved.token } as unknown as RefundRecord;
      return { refund: await callWechat(rt, merchant, claimed, reserved.token, false), replayed: false };
    }
    if (!fingerprint.matches(existing.fingerprint)) {
      throw conflict('OUT_REFUND_NO_USED', `out_refund_no ${input.out_refund_no} was already used for a different refund; a refund number refunds once`);
    }
    if (existing.claim_status === 'PENDING') {
      if (isLeased(existing, rt.now())) {
        await rt.claims.waitWhileLeased(key, 10_000);
        continue;
      }
      // Its worker died mid-call: take the claim over and send the identical request again.
      const taken = await rt.claims.claim<RefundRecord>(key, fingerprint, LEASE_MS);
      if (taken.kind !== 'claimed') continue;
      return { refund: await callWechat(rt, merchant, taken.record ?? existing, taken.token, true), replayed: false };
    }
    if (existing.state !== 'UNCERTAIN') return { refund: answer(existing), replayed: true };
    const token = await rt.claims.renew(key, existing.fingerprint, LEASE_MS);
    if (!token) {
      await rt.claims.waitWhileLeased(key, 10_000);
      continue;
    }
    return { refund: await callWechat(rt, merchant, existing, token, true), replayed: false };
  }
  throw new ServiceError(409, 'REQUEST_IN_PROGRESS', 'the same refund is being created; retry shortly', { retryAfterSeconds: 1 });
}

function checkRefundable(rt: Runtime, merchant: MerchantContext, order: PaidOrder): void {
  if (order.paid_at !== undefined && rt.now() > order.paid_at + REFUND_WINDOW_MS) {
    throw new ServiceError(422, 'REFUND_WINDOW_CLOSED', `order ${order.out_trade_no} was paid more than a year ago; WeChat refunds only within a year`);
  }
  if (order.product !== 'H5' && !merchant.clientCertificate) {
    throw new ServiceError(
      422,
      'MERCHANT_CERTIFICATE_MISSING',
      'refunds of contract orders and deductions go through APIv2 with mutual TLS: add merchantCertificate (apiclient_cert.pem) to the direct merchant secret',
      { errors: [{ field: 'merchantCertificate', message: 'is missing from the direct merchant secret' }] },
    );
  }
}

function draftRecord(input: CreateRefundInput, order: PaidOrder, fingerprint: Fingerprint, now: number) {
  return {
    ...keys.refund(input.out_refund_no),
    kind: 'REFUND',
    fingerprint: fingerprint.value,
    out_refund_no: input.out_refund_no,
    out_trade_no: order.out_trade_no,
    product: order.product,
    protocol: order.product === 'H5' ? 'v3' : 'v2',
    order_pk: order.key.pk,
    order_sk: order.key.sk,
    mchid: order.mchid,
    appid: order.appid,
    transaction_id: order.transaction_id,
    amount_total: order.total,
    amount_refund: input.amount.refund,
    currency: order.currency,
    reason: input.reason,
    state: 'CREATING',
    expires_at: Math.floor(now / 1000) + RETENTION_SECONDS,
  };
}

/** Makes the one call under the lease `token` and records what it says; returns the view of the result. */
async function callWechat(rt: Runtime, merchant: MerchantContext, record: RefundRecord, token: string, earlierAttempt: boolean): Promise<RefundView> {
  // What the record holds is what is sent: a retry is the identical refund, as WeChat requires.
  const key = keys.refund(record.out_refund_no);
  const outcome: RefundCallOutcome = record.protocol === 'v3' ? await requestV3Refund(rt, merchant, record) : await requestV2Refund(rt, merchant, record);
  const { to, set } = decide(record, outcome, earlierAttempt);
  logger.info('refund answered', { out_refund_no: record.out_refund_no, outcome: outcome.kind, state: to, ...(outcome.kind === 'unknown' ? { reason: outcome.reason } : {}) });
  countRefundOutcome(to);
  const orderKey = { pk: record.order_pk, sk: record.order_sk };
  const change = await changeRefund(rt, record.out_refund_no, { to, from: CALL_FROM, set, token }, record.amount_refund, orderKey);
  if (change.kind === 'applied' && change.record) return answer(change.record);
  if (change.kind === 'superseded') {
    // A notification told us first (e.g. SUCCESS while the answer travelled): keep its state, store our fields.
    return answer(await rt.claims.complete<RefundRecord>(key, token, set));
  }
  if (change.kind === 'lost') logger.warn('refund lease lost', { out_refund_no: record.out_refund_no });
  return answer((await rt.claims.get<RefundRecord>(key))!);
}

/** What the answer means for the record: money moves on an answer only; a refusal frees the amount only if final. */
function decide(record: RefundRecord, outcome: RefundCallOutcome, earlierAttempt: boolean): { to: RefundState; set: Record<string, unknown> } {
  switch (outcome.kind) {
    case 'accepted': {
      const f = outcome.facts;
      if (f.amount_refund !== undefined && f.amount_refund !== record.amount_refund) {
        // Not the refund we asked for: never recorded as ours; the query (GET) settles it.
        return { to: 'UNCERTAIN', set: { last_error: 'ANSWER_AMOUNT_MISMATCH' } };
      }
      return {
        to: f.status,
        set: {
          refund_id: f.refund_id,
          channel: f.channel,
          user_received_account: f.user_received_account,
          success_time: f.success_time,
          wechat_create_time: f.create_time,
          payer_refund: f.payer_refund,
        },
      };
    }
    case 'unknown':
      return { to: 'UNCERTAIN', set: { last_error: outcome.reason } };
    case 'refused':
      // After an earlier attempt that may have reached WeChat, a refusal may be WeChat recognising it: the amount
      // stays reserved and the query decides. WeChat asks for the same number again after NOT_ENOUGH.
      if (earlierAttempt || outcome.retrySameNumber) return { to: 'UNCERTAIN', set: { last_error: outcome.refusal.code, refusal: outcome.refusal } };
      return { to: 'REJECTED', set: { refusal: outcome.refusal } };
  }
}

/** A refused refund is an error for the caller (the same every time); every other state is an answer. */
function answer(record: RefundRecord): RefundView {
  if (record.state === 'REJECTED') throw refusalError(record.refusal);
  if (record.state === 'CREATING') throw new ServiceError(409, 'REQUEST_IN_PROGRESS', 'the same refund is being created; retry shortly', { retryAfterSeconds: 1 });
  return toRefundView(record);
}

export function refusalError(refusal: RefundRefusal | undefined): ServiceError {
  const r = refusal ?? { status: 422, code: 'WECHATPAY_REJECTED', message: 'WeChat Pay refused the refund' };
  return new ServiceError(r.status, r.code, r.message, r.wechatpay ? { wechatpay: r.wechatpay } : {});
}
