import type { ClaimedRecord } from '../store/claims';
import { beijingTime, wechatTime } from '../http/time';

/**
 * A refund's life at our side. WeChat's four statuses (PROCESSING, SUCCESS, ABNORMAL, CLOSED), plus ours:
 * CREATING while the one call is in flight, UNCERTAIN when its answer was lost (the amount stays reserved until
 * WeChat says otherwise), REJECTED when WeChat refused it outright (nothing was created, the amount is released).
 */
export type RefundState = 'CREATING' | 'UNCERTAIN' | 'REJECTED' | 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';

/** WeChat's word moves a refund forward only; ABNORMAL is not final (it may still succeed or close). */
export const REFUND_FORWARD_FROM: Record<'PROCESSING' | 'ABNORMAL' | 'SUCCESS' | 'CLOSED', readonly RefundState[]> = {
  PROCESSING: ['CREATING', 'UNCERTAIN', 'REJECTED'],
  ABNORMAL: ['CREATING', 'UNCERTAIN', 'REJECTED', 'PROCESSING'],
  SUCCESS: ['CREATING', 'UNCERTAIN', 'REJECTED', 'PROCESSING', 'ABNORMAL'],
  CLOSED: ['CREATING', 'UNCERTAIN', 'REJECTED', 'PROCESSING', 'ABNORMAL'],
};

/** Which of our payments a refund returns money from, and so which protocol refunds it. */
export type RefundedProduct = 'H5' | 'CONTRACT_ORDER' | 'DEDUCTION';
export type RefundProtocol = 'v3' | 'v2';

export interface RefundRefusal {
  status: number;
  code: string;
  message: string;
  wechatpay?: Record<string, unknown>;
}

export interface RefundRecord extends ClaimedRecord {
  kind: 'REFUND';
  out_refund_no: string;
  out_trade_no: string;
  product: RefundedProduct;
  protocol: RefundProtocol;
  /** The order record the amount is reserved on. */
  order_pk: string;
  order_sk: string;
  mchid: string;
  appid: string;
  transaction_id: string;
  /** From our order record, never from the caller. */
  amount_total: number;
  amount_refund: number;
  currency: string;
  reason?: string;
  state: RefundState;
  /** Set once the reserved amount went back to the order (CLOSED, or refused outright): never twice. */
  reservation_released?: boolean;
  refund_id?: string;
  channel?: string;
  user_received_account?: string;
  /** WeChat's times as sent (v3 RFC 3339, v2 `yyyy-MM-dd HH:mm:ss`). */
  success_time?: string;
  wechat_create_time?: string;
  payer_refund?: number;
  refusal?: RefundRefusal;
  last_error?: string;
  last_checked_at?: number;
  expires_at?: number;
}

/** The ledger kept on the order record (H5 or contract order) next to its own fields. */
export interface RefundLedger {
  /** Σ amount of every refund of this order that is not CLOSED or refused outright. */
  refund_reserved?: number;
  /** How many refunds were ever accepted for WeChat (its limit is 50 per order). */
  refund_count?: number;
  last_refund_at?: number;
  refund_nos?: Set<string>;
}

/** The documented remedy for an ABNORMAL refund, surfaced with it: it is never retried on its own. */
export const ABNORMAL_REMEDY =
  'the original payment route could not take the money back (e.g. the card was cancelled): handle it in the merchant platform (交易中心 → 退款管理) or with the abnormal-refund API; never start a second refund for the same money';

export interface RefundView {
  out_refund_no: string;
  out_trade_no: string;
  state: RefundState;
  amount: { refund: number; total: number; currency: string; payer_refund?: number };
  reason?: string;
  refund_id?: string;
  channel?: string;
  user_received_account?: string;
  success_time?: string;
  error?: { code: string; message: string; wechatpay?: Record<string, unknown> };
  remedy?: string;
  created_at: string;
  updated_at: string;
}

export function toRefundView(record: RefundRecord): RefundView {
  const successTime = record.success_time ? wechatTime(record.success_time) : undefined;
  return {
    out_refund_no: record.out_refund_no,
    out_trade_no: record.out_trade_no,
    state: record.state,
    amount: {
      refund: record.amount_refund,
      total: record.amount_total,
      currency: record.currency,
      ...(record.payer_refund !== undefined ? { payer_refund: record.payer_refund } : {}),
    },
    ...(record.reason ? { reason: record.reason } : {}),
    ...(record.refund_id ? { refund_id: record.refund_id } : {}),
    ...(record.channel ? { channel: record.channel } : {}),
    ...(record.user_received_account ? { user_received_account: record.user_received_account } : {}),
    ...(successTime ? { success_time: successTime } : {}),
    ...(record.state === 'REJECTED' && record.refusal
      ? { error: { code: record.refusal.code, message: record.refusal.message, ...(record.refusal.wechatpay ? { wechatpay: record.refusal.wechatpay } : {}) } }
      : {}),
    ...(record.state === 'ABNORMAL' ? { remedy: ABNORMAL_REMEDY } : {}),
    created_at: beijingTime(record.created_at),
    updated_at: beijingTime(record.updated_at),
  };
}

/** What an order's GET shows of its refunds: the money actually returned, and each refund in brief. */
export interface OrderRefundsView {
  refunded_total: number;
  refunds: { out_refund_no: string; state: RefundState; amount: number }[];
}

export function orderRefundsView(refunds: readonly RefundRecord[]): OrderRefundsView {
  const sorted = [...refunds].sort((a, b) => a.created_at - b.created_at);
  return {
    refunded_total: sorted.filter((r) => r.state === 'SUCCESS').reduce((sum, r) => sum + r.amount_refund, 0),
    refunds: sorted.map((r) => ({ out_refund_no: r.out_refund_no, state: r.state, amount: r.amount_refund })),
  };
}
