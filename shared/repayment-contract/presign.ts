import { pendingAttributes } from '../store/pending';
import { PRODUCT } from './contract-facts';
import { ConditionalCheckFailedException, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { conflict, ServiceError, unavailable } from '../http/errors';
import { validate } from '../http/validation';
import type { MerchantContext } from '../merchant/context';
import { isTransient, toServiceError } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { claimedCall, type CallResult, type LeaseOrigin } from '../store/claimed-call';
import type { ClaimGuard } from '../store/claims';
import { fromAttributes, toAttributes, type Item } from '../store/items';
import { keys } from '../store/keys';
import { MalformedResponseError, WechatPayApiError, type EncryptionKey } from '../wechatpay';
import {
  PRESIGN_TOKEN_TTL_MS,
  refusalError,
  toAnswer,
  type PresignAnswer,
  type ContractState,
  type Refusal,
  type RepaymentContractRecord,
  type RepaymentRecord,
} from './record';
import { createRepaymentContractSchema } from './schema';
import { normalizePresign, presignBody, presignFingerprint, PRESIGN_PATH, type NormalizedPresign } from './wechat-request';
import { wechatBudgetMs } from '../runtime/invocation';

/** Longer than the v3 client's worst case (3 attempts × 5 s timeout + backoff), so the lease outlives the call. */
const LEASE_MS = 30_000;

/** Error codes of our own (WeChat's codes pass through unchanged). */
export const CONTRACT_CODE_USED = 'CONTRACT_CODE_USED';
export const PRESIGN_EXPIRED = 'PRESIGN_EXPIRED';
export const REQUEST_IN_PROGRESS = 'REQUEST_IN_PROGRESS';
export const OUT_TRADE_NO_USED = 'OUT_TRADE_NO_USED';

export interface PresignOptions {
  source: 'http' | 'queue';
  messageId?: string;
}

export interface PresignResult {
  answer: PresignAnswer;
  /** True when the answer is the stored one and WeChat was not called. */
  replayed: boolean;
}

const busy = () =>
  new ServiceError(409, REQUEST_IN_PROGRESS, 'the same presign is being made; retry shortly', { retryAfterSeconds: 1 });

/**
 * `POST /repayment-contracts` and the presign queue: one H5 presign per out_contract_code, ever.
 *
 * - Same request again while the 10-minute presign token lives → the stored answer (WeChat is not called again).
 * - Same request after that → 409 PRESIGN_EXPIRED: the code was sent and can never be reused.
 * - A different request for the same code → 409 CONTRACT_CODE_USED without calling WeChat.
 * - N concurrent identical requests → one WeChat call; the others get its answer.
 * - WeChat's answer lost (timeout, 5xx, unverifiable) → 503; only the identical request may ask again.
 * - WeChat's refusal (4xx) → stored as REJECTED and answered the same way every time.
 *
 * "The same request" is decided by a keyed HMAC of the normalised plain-text request: the encrypted body differs on
 * every call (RSA-OAEP is randomised) and the plain text is never stored.
 */
export async function presignRepaymentContract(rt: Runtime, body: unknown, options: PresignOptions): Promise<PresignResult> {
  const input = validate(createRepaymentContractSchema, body);
  const merchant = await rt.merchants.get('partner');
  const normalized = normalizePresign(input, merchant, rt.config.publicBaseUrl);
  // Before anything is claimed: with only expired certificates nothing could be sent that WeChat can decrypt.
  const encryptionKey = merchant.encryptionKey(rt.now());
  const code = normalized.out_contract_code;

  const { record, replayed } = await claimedCall<RepaymentContractRecord>({
    claims: rt.claims,
    key: keys.repaymentContract(code),
    fingerprint: presignFingerprint(normalized, merchant),
    leaseMs: LEASE_MS,
    // Pending until signed, expired or refused: the sweeper looks just after the token's 10 minutes.
    initial: { ...initialRecord(normalized, merchant, options), ...pendingAttributes(PRODUCT, rt.now() + PRESIGN_TOKEN_TTL_MS + 1_000) },
    // Only a lost answer is asked again (the identical request); everything else is answered from the record.
    onRepeat: (existing) => (existing.state === 'UNCERTAIN' ? 'renew' : 'replay'),
    onConflict: () =>
      conflict(
        CONTRACT_CODE_USED,
        `out_contract_code ${code} was already used for a different request; a contract code is never reusable, send a new one`,
      ),
    // A code whose presign WeChat refused outright (nothing created) serves a corrected request.
    reclaimable: (existing) =>
      existing.state === 'REJECTED' && existing.reusable === true && existing.notified_unconfirmed_at === undefined,
    onBusy: busy,
    // The first repayment's out_trade_no is reserved in the claim's own transaction (2 writes in all, not 3).
    guards: normalized.trade_info ? [repaymentReservation(rt, merchant, normalized)] : [],
    call: (existing, how) => callWechat(rt, merchant, normalized, encryptionKey, existing, how),
  });
  return { answer: settle(rt, record, replayed), replayed };
}

function initialRecord(n: NormalizedPresign, merchant: MerchantContext, options: PresignOptions): Item {
  return {
    kind: 'REPAYMENT_CONTRACT',
    out_contract_code: n.out_contract_code,
    state: 'PRESIGNING',
    source: options.source,
    message_id: options.messageId,
    mchid: merchant.mchid,
    appid: n.appid,
    plan_id: n.plan_id,
    sub_mchid: n.sub_mchid,
    sub_appid: n.sub_appid,
    display_name: n.display_name,
    identity_type: n.real_identity.identity_type,
    repayment_day: n.repayment_day,
    repayment_amount_limit: n.repayment_amount_limit,
    trade_out_trade_no: n.trade_info?.out_trade_no,
    trade_deduct_amount: n.trade_info?.deduct_amount,
  };
}

/** Turns the stored record into the answer, or into the error the same request always gets. */
function settle(rt: Runtime, record: RepaymentContractRecord, replayed: boolean): PresignAnswer {
  const now = rt.now();
  switch (record.state) {
    case 'UNCERTAIN':
      throw unavailable('WeChat Pay did not give a usable answer; send the same request again');
    case 'REJECTED':
      throw refusalError(record.refusal);
    case 'PRESIGNING':
      throw busy();
    default:
      if (replayed && now >= (record.redirect_url_expires_at ?? 0)) {
        throw conflict(
          PRESIGN_EXPIRED,
          `out_contract_code ${record.out_contract_code} was presigned and its 10-minute presign token has run out; a contract code is never reusable, send a new one`,
        );
      }
      return toAnswer(record, now);
  }
}

/** Runs under the contract's lease: reserve the first repayment's out_trade_no, make the one call, classify it. */
async function callWechat(
  rt: Runtime,
  merchant: MerchantContext,
  n: NormalizedPresign,
  encryptionKey: EncryptionKey,
  existing: RepaymentContractRecord | undefined,
  how: LeaseOrigin,
): Promise<CallResult> {
  const code = n.out_contract_code;
  // `existing` is set when an earlier attempt of this very request may have reached WeChat (its answer was lost,
  // or its worker died holding the lease): from then on nothing is given back.
  const earlierAttempt = existing !== undefined;
  // A new claim wrote the reservation with it; a reclaimed code (a corrected request after a definitive refusal, which
  // gave its number back) reserves its own now.
  if (n.trade_info && how === 'reclaimed') {
    const holder = await reserveRepayment(rt, merchant, n);
    if (holder !== code) {
      return rejected({
        status: 409,
        code: OUT_TRADE_NO_USED,
        message: `trade_info.out_trade_no ${n.trade_info.out_trade_no} already belongs to another repayment contract`,
      });
    }
  }

  const started = rt.now();
  const { body, wechatpaySerial } = presignBody(n, encryptionKey);
  let redirectUrl: unknown;
  try {
    const response = await merchant.v3.request<{ redirect_url?: unknown }>({
      method: 'POST',
      path: PRESIGN_PATH,
      body,
      wechatpaySerial,
      budgetMs: wechatBudgetMs('call'),
    });
    redirectUrl = response.data?.redirect_url;
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) {
      logger.warn('presign answer lost', { out_contract_code: code, error: codeOf(error) });
      return uncertain(codeOf(error));
    }
    if (error instanceof WechatPayApiError && error.status !== 401) {
      logger.info('presign refused', { out_contract_code: code, status: error.status, code: error.code });
      // After an earlier attempt (ours before, or the client's own retry after a timeout or 5xx) the refusal may be
      // WeChat recognising our first call ("out_contract_code已使用"): then nothing is given back.
      const retried = (error.attempts ?? 1) > 1;
      const definitive = !earlierAttempt && !retried && !namesUsedKey(error);
      if (n.trade_info && definitive) await releaseRepayment(rt, n.trade_info.out_trade_no, code);
      // Stored either way, so GET tells a queued request's sender why; only a definitive refusal frees the code.
      return rejected(wechatRefusal(error), definitive);
    }
    if (error instanceof WechatPayApiError && earlierAttempt) {
      logger.warn('presign answer lost', { out_contract_code: code, error: error.code });
      return uncertain(error.code);
    }
    // Our signature refused (credentials) or a bug: nothing was consumed, the key goes back.
    throw error instanceof WechatPayApiError ? toServiceError(error) : error;
  }
  if (typeof redirectUrl !== 'string' || redirectUrl === '') {
    logger.warn('presign answer lost', { out_contract_code: code, error: 'NO_REDIRECT_URL' });
    return uncertain('NO_REDIRECT_URL');
  }
  logger.info('presigned', { out_contract_code: code });
  return {
    // A notification may have moved the record on meanwhile (signed with a lost answer's token): never move it back.
    advance: { to: 'PRESIGNED', from: CALL_FROM },
    fields: {
      redirect_url: redirectUrl,
      presigned_at: started,
      // Counted from before the call: WeChat's token cannot be younger than that, so ours never outlives it.
      redirect_url_expires_at: started + PRESIGN_TOKEN_TTL_MS,
    },
  };
}

/** The states a presign call decides from; anything a notification reported stays. */
const CALL_FROM: readonly ContractState[] = ['PRESIGNING', 'UNCERTAIN'];

const rejected = (refusal: Refusal, reusable = false): CallResult => ({
  advance: { to: 'REJECTED', from: CALL_FROM, pending: null },
  fields: { refusal, ...(reusable ? { reusable: true } : {}) },
});

/**
 * A refusal saying one of our keys is taken ("out_contract_code已使用", "…已存在", "…重复") means WeChat holds it:
 * the code stays used. Any other first-attempt 4xx created nothing and the code may be corrected and sent again.
 */
function namesUsedKey(error: WechatPayApiError): boolean {
  return /已使用|已存在|重复/.test(error.message);
}
const uncertain = (lastError: string): CallResult => ({ advance: { to: 'UNCERTAIN', from: CALL_FROM }, fields: { last_error: lastError } });

function wechatRefusal(error: WechatPayApiError): Refusal {
  const detail = typeof error.detail === 'object' && error.detail !== null ? (error.detail as Record<string, unknown>) : {};
  const text = (name: string) => (typeof detail[name] === 'string' ? (detail[name] as string) : undefined);
  // detail.value is left out on purpose: for real_identity it is our ciphertext, and it is never needed.
  const field = text('field');
  const location = text('location');
  const issue = text('issue');
  return {
    status: 422,
    code: error.code || 'WECHATPAY_REJECTED',
    message: error.message || 'WeChat Pay rejected the presign',
    wechatpay: {
      status: error.status,
      code: error.code,
      message: error.message,
      ...(field !== undefined ? { field } : {}),
      ...(location !== undefined ? { location } : {}),
      ...(issue !== undefined ? { issue } : {}),
    },
  };
}

/**
 * The first repayment's out_trade_no, reserved with the contract's claim in one transaction. Refused (409, nothing
 * written) when another contract holds it; a reservation this code left behind (a call that failed before WeChat
 * saw it) is simply taken again.
 */
function repaymentReservation(rt: Runtime, merchant: MerchantContext, n: NormalizedPresign): ClaimGuard {
  const trade = n.trade_info!;
  const now = rt.now();
  return {
    key: keys.repayment(trade.out_trade_no),
    put: repaymentItem(merchant, n, now),
    condition: 'attribute_not_exists(pk) OR (out_contract_code = :code AND #state = :pending)',
    names: { '#state': 'state' },
    values: { ':code': n.out_contract_code, ':pending': 'PENDING' },
    refusal: () =>
      new ServiceError(409, OUT_TRADE_NO_USED, `trade_info.out_trade_no ${trade.out_trade_no} already belongs to another repayment contract`, {
        errors: [{ field: 'trade_info.out_trade_no', message: 'already used by another repayment contract; send a new one' }],
      }),
  };
}

function repaymentItem(merchant: MerchantContext, n: NormalizedPresign, now: number): RepaymentRecord {
  const trade = n.trade_info!;
  return {
    ...keys.repayment(trade.out_trade_no),
    kind: 'REPAYMENT',
    out_trade_no: trade.out_trade_no,
    out_contract_code: n.out_contract_code,
    mchid: merchant.mchid,
    deduct_amount: trade.deduct_amount,
    state: 'PENDING',
    created_at: now,
    updated_at: now,
  };
}

/**
 * `REPAY#<out_trade_no>` is created with the presign that asks for the first repayment: it holds that repayment's
 * result and leads a DEDUCTION_PAY notification back to the contract. Returns the contract code holding it.
 */
async function reserveRepayment(rt: Runtime, merchant: MerchantContext, n: NormalizedPresign): Promise<string> {
  const item = repaymentItem(merchant, n, rt.now());
  try {
    await rt.dynamo.send(
      new PutItemCommand({
        TableName: rt.config.tableName,
        Item: toAttributes(item),
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return n.out_contract_code;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return fromAttributes<RepaymentRecord>(error.Item)?.out_contract_code ?? '';
  }
}

/** Gives the out_trade_no back after a refusal that consumed nothing at WeChat. */
async function releaseRepayment(rt: Runtime, outTradeNo: string, code: string): Promise<void> {
  try {
    await rt.dynamo.send(
      new DeleteItemCommand({
        TableName: rt.config.tableName,
        Key: toAttributes({ ...keys.repayment(outTradeNo) }),
        ConditionExpression: 'out_contract_code = :code AND #state = :pending',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: toAttributes({ ':code': code, ':pending': 'PENDING' }),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

function codeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'unknown';
}
