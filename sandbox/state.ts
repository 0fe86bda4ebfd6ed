/**
 * Everything the sandbox remembers, in memory. No plaintext PII is ever stored: for credit-repayment
 * contracts only the display-name mask is kept.
 */
import type { TradeType } from './validate/contract-order';
import type { V2SignType } from './crypto';
import type { BillDiscrepancy } from './products/bill';

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED';

/** An H5 order (`POST /v3/pay/transactions/h5`). */
export interface H5Order {
  kind: 'h5';
  mchid: string;
  appid: string;
  out_trade_no: string;
  /** Canonical JSON of the request body: "same parameters" test. */
  fingerprint: string;
  description: string;
  total: number;
  currency: string;
  attach?: string;
  notify_url: string;
  device_id?: string;
  created_ms: number;
  time_expire_ms: number;
  prepay_id: string;
  /** Current h5_url page token and when it stops working (5 min). */
  token: string;
  token_expires_ms: number;
  trade_state: TradeState;
  transaction_id?: string;
  success_ms?: number;
  openid?: string;
  closed_ms?: number;
}

/** A pay-and-sign order (`POST /pay/contractorder`). */
export interface ContractOrder {
  kind: 'contractorder';
  mchid: string;
  appid: string;
  out_trade_no: string;
  fingerprint: string;
  sign_type: V2SignType;
  trade_type: TradeType;
  body: string;
  attach?: string;
  device_info?: string;
  total_fee: number;
  notify_url: string;
  contract_notify_url: string;
  plan_id: string;
  contract_code: string;
  request_serial: string;
  contract_display_account: string;
  request_openid?: string;
  /** WeChat made the order but refused its contract (`contract_result_code FAIL`): paying signs nothing. */
  contract_refused?: boolean;
  created_ms: number;
  time_expire_ms?: number;
  prepay_id: string;
  prepay_expires_ms: number;
  code_url?: string;
  /** MWEB page token (5 min). */
  token?: string;
  token_expires_ms?: number;
  trade_state: TradeState;
  transaction_id?: string;
  success_ms?: number;
  openid?: string;
}

export type Order = H5Order | ContractOrder;

/** The papay contract created by a paid contractorder. */
export interface PapContract {
  mchid: string;
  appid: string;
  plan_id: string;
  contract_code: string;
  request_serial: string;
  contract_display_account: string;
  contract_notify_url: string;
  out_trade_no: string;
  state: 'PENDING' | 'SIGNED' | 'TERMINATED';
  contract_id?: string;
  openid?: string;
  signed_ms?: number;
  expired_ms?: number;
  terminated_ms?: number;
  /** 2 = by user, 3 = by merchant API (v2 querycontract values). */
  termination_mode?: number;
  /** The last pre-deduction notice (`/v3/papay/contracts/{contract_id}/notify`). */
  pre_notice?: { amount: number; days: number; sent_ms: number; fingerprint: string };
}

export type RepaymentContractStatus = 'PRESIGNED' | 'DECLINED' | 'EFFECTIVE' | 'TERMINATED';

/** A credit-repayment contract from H5 presign. */
export interface RepaymentContract {
  mchid: string;
  appid: string;
  sub_mchid?: string;
  sub_appid?: string;
  plan_id: string;
  out_contract_code: string;
  /** The mask only; the real name is never stored. */
  display_name: string;
  identity_type: string;
  contract_notify_url: string;
  repayment_day?: number;
  repayment_amount_limit: string;
  trade_info?: {
    out_trade_no: string;
    deduct_amount: string;
    description?: string;
    attach?: string;
    notify_url?: string;
  };
  jump_appid?: string;
  created_ms: number;
  token: string;
  token_expires_ms: number;
  status: RepaymentContractStatus;
  contract_id?: string;
  openid?: string;
  signed_ms?: number;
  terminated_ms?: number;
  terminated_mode?: string;
  termination_remark?: string;
}

/** A repayment: the first one made during signing (trade_info), or one started with deduct-orders. */
export interface DeductOrder {
  mchid: string;
  appid: string;
  sub_appid?: string;
  out_trade_no: string;
  out_contract_code: string;
  contract_id: string;
  openid: string;
  order_state: 'DEDUCT_ORDER_STATE_PENDING' | 'DEDUCT_ORDER_STATE_NOT_PAY' | 'DEDUCT_ORDER_STATE_PAY_SUCCESS' | 'DEDUCT_ORDER_STATE_PAY_FAIL';
  deduct_amount: string;
  pay_success_amount?: string;
  description?: string;
  attach?: string;
  transaction_id?: string;
  success_ms?: number;
  /** deduct-orders only: its schedule record, notify URL and request (the same number with other fields is refused). */
  out_record_id?: string;
  notify_url?: string;
  fingerprint?: string;
}

/** A repayment scheduled with schedule-records/batch-create (one item per call). */
export interface ScheduleRecord {
  mchid: string;
  out_record_id: string;
  appid: string;
  sub_mchid: string;
  sub_appid?: string;
  contract_id: string;
  openid: string;
  repayment_amount: string;
  min_repayment_amount: string;
  repayment_date: string;
  fingerprint: string;
}

/** A papay deduction (`/pay/pappayapply`): accepted, then settled asynchronously. */
export interface PapOrder {
  mchid: string;
  appid: string;
  out_trade_no: string;
  contract_id: string;
  body: string;
  attach?: string;
  total_fee: number;
  notify_url: string;
  fingerprint: string;
  trade_state: 'ACCEPT' | 'SUCCESS' | 'PAY_FAIL' | 'CLOSED';
  err_code?: string;
  err_code_des?: string;
  transaction_id?: string;
  openid: string;
  created_ms: number;
  settle_at_ms: number;
  success_ms?: number;
}

/** A refund, v3 (`/v3/refund/domestic/refunds`, H5 orders) or v2 (`/secapi/pay/refund`, contract orders). */
export interface SandboxRefund {
  protocol: 'v3' | 'v2';
  mchid: string;
  appid: string;
  out_refund_no: string;
  refund_id: string;
  out_trade_no: string;
  transaction_id: string;
  total: number;
  refund: number;
  reason?: string;
  notify_url?: string;
  /** v2 only: the sign type the request used (the answers use it too). */
  sign_type?: 'MD5' | 'HMAC-SHA256';
  /** Canonical request: the same number with other parameters is refused. */
  fingerprint: string;
  status: 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
  created_ms: number;
  /** Business time at which a PROCESSING refund settles on its own. */
  settle_at_ms: number;
  success_ms?: number;
}

export type TokenKind = 'h5' | 'mweb' | 'presign';

export interface TokenRef {
  kind: TokenKind;
  /** `${mchid}:${business key}` */
  key: string;
}

export const keyOf = (mchid: string, id: string): string => `${mchid}:${id}`;

export class SandboxState {
  /** H5 orders and contract orders share the merchant's out_trade_no namespace. */
  readonly orders = new Map<string, Order>();
  readonly papContracts = new Map<string, PapContract>();
  readonly requestSerials = new Map<string, string>(); // mchid:request_serial -> out_trade_no
  readonly repaymentContracts = new Map<string, RepaymentContract>();
  /** Reserved trade_info out_trade_no of presigns, and the deduct orders once paid. */
  readonly deductTradeNos = new Map<string, string>(); // mchid:out_trade_no -> out_contract_code
  readonly deductOrders = new Map<string, DeductOrder>();
  /** mchid:out_record_id -> schedule record. */
  readonly scheduleRecords = new Map<string, ScheduleRecord>();
  readonly tokens = new Map<string, TokenRef>();
  /** mchid:out_refund_no -> refund (one number space per merchant, both protocols). */
  readonly refunds = new Map<string, SandboxRefund>();
  /** mchid:out_trade_no -> papay deduction (its own namespace from the payment orders in the sandbox). */
  readonly papOrders = new Map<string, PapOrder>();
  /** Bill download tokens (sandbox/products/bill.ts). */
  readonly billTokens = new Map<string, unknown>();
  /** Differences injected into the bills (never into the ledger). */
  readonly billDiscrepancies: BillDiscrepancy[] = [];
  /** Real-time timers that settle PROCESSING refunds; cleared with the state. */
  readonly timers = new Set<NodeJS.Timeout>();

  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.refunds.clear();
    this.papOrders.clear();
    this.billTokens.clear();
    this.billDiscrepancies.length = 0;
    this.orders.clear();
    this.papContracts.clear();
    this.requestSerials.clear();
    this.repaymentContracts.clear();
    this.deductTradeNos.clear();
    this.deductOrders.clear();
    this.scheduleRecords.clear();
    this.tokens.clear();
  }

  /** Debug view of orders (`GET /sandbox/orders`). */
  listOrders(): Order[] {
    return [...this.orders.values()].map((o) => ({ ...o }));
  }

  /** Debug view of papay deductions (`GET /sandbox/deductions`). */
  listPapOrders(): PapOrder[] {
    return [...this.papOrders.values()].map((o) => ({ ...o }));
  }

  /** Debug view of refunds (`GET /sandbox/refunds`). */
  listRefunds(): SandboxRefund[] {
    return [...this.refunds.values()].map((r) => ({ ...r }));
  }

  /** Debug view of contracts (`GET /sandbox/contracts`): masks only, never plaintext PII. */
  listContracts(): { repayment: RepaymentContract[]; papay: PapContract[]; deductOrders: DeductOrder[] } {
    return {
      repayment: [...this.repaymentContracts.values()].map((c) => ({ ...c })),
      papay: [...this.papContracts.values()].map((c) => ({ ...c })),
      deductOrders: [...this.deductOrders.values()].map((d) => ({ ...d })),
    };
  }
}
