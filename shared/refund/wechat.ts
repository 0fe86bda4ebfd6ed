import * as v from 'valibot';
import { v2ClientFor } from '../contract-order/client';
import { ConfigError } from '../config/env';
import { connection, type MerchantContext } from '../merchant/context';
import { isTransient } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs, type WechatCallPurpose } from '../runtime/invocation';
import {
  MalformedResponseError,
  WechatPayApiError,
  WechatPayV2Client,
  WechatPayV2ReturnError,
} from '../wechatpay';
import { mutualTlsFetch } from '../wechatpay/http/mutual-tls';
import type { RefundRecord, RefundRefusal } from './record';

export const V3_REFUND_PATH = '/v3/refund/domestic/refunds';
export const V2_REFUND_PATH = '/secapi/pay/refund';
export const V2_REFUND_QUERY_PATH = '/pay/refundquery';
export const REFUND_NOTIFY_PATH = '/notify/refund';
export const V2_REFUND_NOTIFY_PATH = '/notify/contract-order/refund';

/** What WeChat says about a refund, from a create answer, a query or a notification, in one shape. */
export interface RefundFacts {
  status: 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
  refund_id?: string | undefined;
  out_refund_no?: string | undefined;
  out_trade_no?: string | undefined;
  amount_refund?: number | undefined;
  amount_total?: number | undefined;
  payer_refund?: number | undefined;
  channel?: string | undefined;
  user_received_account?: string | undefined;
  success_time?: string | undefined;
  create_time?: string | undefined;
  mchid?: string | undefined;
}

export type RefundCallOutcome =
  | { kind: 'accepted'; facts: RefundFacts }
  /** No usable answer: WeChat may or may not have the refund. Only the identical request may try again. */
  | { kind: 'unknown'; reason: string }
  /** WeChat refused it; `definitive` when this was the only attempt, so nothing can exist at WeChat. */
  | { kind: 'refused'; refusal: RefundRefusal; retrySameNumber: boolean };

const intOrUndefined = (value: unknown): number | undefined => {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

const V3_STATUSES = ['PROCESSING', 'SUCCESS', 'ABNORMAL', 'CLOSED'] as const;

/** The v3 Refund object (create answer, query answer) and the decrypted `REFUND.*` notification. Lenient: optional fields. */
export function readV3Refund(data: unknown): RefundFacts | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const status = str(d['status']) ?? str(d['refund_status']);
  if (!status || !(V3_STATUSES as readonly string[]).includes(status)) return undefined;
  const amount = (typeof d['amount'] === 'object' && d['amount'] !== null ? d['amount'] : {}) as Record<string, unknown>;
  return {
    status: status as RefundFacts['status'],
    refund_id: str(d['refund_id']),
    out_refund_no: str(d['out_refund_no']),
    out_trade_no: str(d['out_trade_no']),
    amount_refund: intOrUndefined(amount['refund']),
    amount_total: intOrUndefined(amount['total']),
    payer_refund: intOrUndefined(amount['payer_refund']),
    channel: str(d['channel']),
    user_received_account: str(d['user_received_account']),
    success_time: str(d['success_time']),
    create_time: str(d['create_time']),
    mchid: str(d['mchid']),
  };
}

/** APIv2 refund statuses (query `refund_status_$n`, notification `refund_status`) in v3 words. */
export function v2Status(status: string | undefined): RefundFacts['status'] | undefined {
  switch (status) {
    case 'SUCCESS':
      return 'SUCCESS';
    case 'PROCESSING':
      return 'PROCESSING';
    case 'REFUNDCLOSE':
      return 'CLOSED';
    case 'CHANGE':
      return 'ABNORMAL';
    default:
      return undefined;
  }
}

const refusalOf = (status: number, code: string, message: string, wechatpay: Record<string, unknown>): RefundRefusal => ({
  status,
  code,
  message,
  wechatpay,
});

/** v3 create: money only moves on an answer; anything ambiguous is "unknown" and keeps the reservation. */
export async function requestV3Refund(rt: Runtime, merchant: MerchantContext, r: RefundRecord): Promise<RefundCallOutcome> {
  const body = JSON.stringify({
    transaction_id: r.transaction_id,
    out_refund_no: r.out_refund_no,
    ...(r.reason ? { reason: r.reason } : {}),
    notify_url: `${rt.config.publicBaseUrl}${REFUND_NOTIFY_PATH}`,
    amount: { refund: r.amount_refund, total: r.amount_total, currency: r.currency },
  });
  try {
    const response = await merchant.v3.request<unknown>({ method: 'POST', path: V3_REFUND_PATH, body, budgetMs: wechatBudgetMs('call') });
    const facts = readV3Refund(response.data);
    if (!facts || facts.out_refund_no !== r.out_refund_no) return { kind: 'unknown', reason: 'UNREADABLE_ANSWER' };
    return { kind: 'accepted', facts };
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) return { kind: 'unknown', reason: codeOf(error) };
    if (error instanceof WechatPayApiError) {
      // FREQUENCY_LIMITED may mean "accepted, in progress": never read as a refusal.
      if (error.status === 429 || error.status >= 500) return { kind: 'unknown', reason: error.code };
      const detail = typeof error.detail === 'object' && error.detail !== null ? (error.detail as Record<string, unknown>) : {};
      const wechatpay = { status: error.status, code: error.code, message: error.message, ...detail };
      // NOT_ENOUGH: the merchant's balance; WeChat wants the same out_refund_no again once it is topped up.
      return {
        kind: 'refused',
        refusal: refusalOf(error.status === 401 ? 502 : 422, error.code || 'WECHATPAY_REJECTED', error.message, wechatpay),
        retrySameNumber: error.code === 'NOT_ENOUGH',
      };
    }
    throw error;
  }
}

const clients = new WeakMap<MerchantContext, WechatPayV2Client>();

/** The APIv2 client that presents the merchant API certificate (mutual TLS), one per merchant context. */
function mutualTlsClient(rt: Runtime, merchant: MerchantContext): WechatPayV2Client {
  let client = clients.get(merchant);
  if (client) return client;
  if (!merchant.apiV2Key) throw new ConfigError('the direct merchant secret has no apiV2Key (needed for APIv2 refunds)');
  const certificate = merchant.clientCertificate;
  if (!certificate) throw new ConfigError('the direct merchant secret has no merchantCertificate (needed for APIv2 refunds)');
  client = new WechatPayV2Client({
    ...connection(merchant.clientSettings),
    baseUrls: rt.config.wechatpayMtlsBaseUrls,
    fetch: mutualTlsFetch({ ...certificate, ...(rt.config.wechatpayTlsCaPem ? { ca: rt.config.wechatpayTlsCaPem } : {}) }),
    mchid: merchant.mchid,
    appid: merchant.appid,
    apiV2Key: merchant.apiV2Key,
  });
  clients.set(merchant, client);
  return client;
}

/** Codes WeChat documents as "send the identical request again". */
const V2_RETRY = new Set(['SYSTEMERROR', 'BIZERR_NEED_RETRY']);

/** v2 create (`/secapi/pay/refund`, mutual TLS). Its answer is acceptance only: the status comes later. */
export async function requestV2Refund(rt: Runtime, merchant: MerchantContext, r: RefundRecord): Promise<RefundCallOutcome> {
  const client = mutualTlsClient(rt, merchant);
  try {
    const response = await client.post(
      V2_REFUND_PATH,
      {
        transaction_id: r.transaction_id,
        out_refund_no: r.out_refund_no,
        total_fee: r.amount_total,
        refund_fee: r.amount_refund,
        ...(r.reason ? { refund_desc: r.reason } : {}),
        notify_url: `${rt.config.publicBaseUrl}${V2_REFUND_NOTIFY_PATH}`,
      },
      { budgetMs: wechatBudgetMs('call') },
    );
    const d = response.data;
    if (d['result_code'] === 'SUCCESS') {
      if (d['out_refund_no'] !== r.out_refund_no) return { kind: 'unknown', reason: 'UNREADABLE_ANSWER' };
      return {
        kind: 'accepted',
        facts: { status: 'PROCESSING', refund_id: str(d['refund_id']), amount_refund: intOrUndefined(d['refund_fee']), amount_total: intOrUndefined(d['total_fee']) },
      };
    }
    const code = d['err_code'] ?? 'FAIL';
    if (V2_RETRY.has(code)) return { kind: 'unknown', reason: code };
    const wechatpay = { result_code: d['result_code'], err_code: code, err_code_des: d['err_code_des'] };
    return { kind: 'refused', refusal: refusalOf(422, code, d['err_code_des'] || code, wechatpay), retrySameNumber: code === 'NOTENOUGH' };
  } catch (error) {
    if (isTransient(error) || error instanceof MalformedResponseError) return { kind: 'unknown', reason: codeOf(error) };
    if (error instanceof WechatPayV2ReturnError) {
      // A communication-level FAIL (e.g. the certificate was refused) created nothing.
      return {
        kind: 'refused',
        refusal: refusalOf(502, 'WECHATPAY_RETURN_FAIL', `WeChat Pay did not accept the call: ${error.returnMsg || error.returnCode}`, {
          return_code: error.returnCode,
          return_msg: error.returnMsg,
        }),
        retrySameNumber: true,
      };
    }
    if (error instanceof WechatPayApiError) return { kind: 'unknown', reason: error.code };
    // A TLS handshake WeChat refused (certificate expired or not WeChat's) reaches us as a connection error above;
    // anything else is a bug.
    throw error;
  }
}

export type QueryAnswer = { kind: 'found'; facts: RefundFacts } | { kind: 'not_found' } | { kind: 'no_answer' };

/** The refund query of the refund's own protocol, bounded by the purpose's budget. */
export async function queryRefund(merchant: MerchantContext, r: RefundRecord, purpose: WechatCallPurpose): Promise<QueryAnswer> {
  try {
    if (r.protocol === 'v3') {
      const response = await merchant.v3.request<unknown>({
        method: 'GET',
        path: `${V3_REFUND_PATH}/${encodeURIComponent(r.out_refund_no)}`,
        budgetMs: wechatBudgetMs(purpose),
      });
      const facts = readV3Refund(response.data);
      return facts ? { kind: 'found', facts } : { kind: 'no_answer' };
    }
    const client = v2ClientFor(merchant);
    if (!client) return { kind: 'no_answer' };
    const response = await client.post(V2_REFUND_QUERY_PATH, { out_refund_no: r.out_refund_no }, { budgetMs: wechatBudgetMs(purpose) });
    const d = response.data;
    if (d['result_code'] !== 'SUCCESS') return d['err_code'] === 'REFUNDNOTEXIST' ? { kind: 'not_found' } : { kind: 'no_answer' };
    const index = Array.from({ length: Number(d['refund_count'] ?? 1) }, (_, i) => i).find((i) => d[`out_refund_no_${i}`] === r.out_refund_no);
    if (index === undefined) return { kind: 'no_answer' };
    const status = v2Status(d[`refund_status_${index}`]);
    if (!status) return { kind: 'no_answer' };
    return {
      kind: 'found',
      facts: {
        status,
        out_refund_no: r.out_refund_no,
        out_trade_no: str(d['out_trade_no']),
        refund_id: str(d[`refund_id_${index}`]),
        amount_refund: intOrUndefined(d[`refund_fee_${index}`]),
        amount_total: intOrUndefined(d['total_fee']),
        channel: str(d[`refund_channel_${index}`]),
        user_received_account: str(d[`refund_recv_accout_${index}`]),
        success_time: str(d[`refund_success_time_${index}`]),
      },
    };
  } catch (error) {
    if (error instanceof WechatPayApiError && error.status === 404) return { kind: 'not_found' };
    if (isTransient(error) || error instanceof WechatPayApiError || error instanceof MalformedResponseError) return { kind: 'no_answer' };
    if (error instanceof v.ValiError) return { kind: 'no_answer' };
    throw error;
  }
}

function codeOf(error: unknown): string {
  if (error instanceof WechatPayApiError) return error.code;
  return error instanceof Error ? error.name : 'unknown';
}
