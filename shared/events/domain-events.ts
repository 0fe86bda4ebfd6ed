import { createHash } from 'node:crypto';
import type { Item } from '../store/items';

/**
 * Domain events: what a merchant's systems subscribe to instead of polling. Built from the table's stream (old and
 * new image of a record), never from a request path, so an event exists if and only if a record's `state` changed
 * (records only move forward, so each state is reached once). The `id` is derived from the record and the state it
 * reached: every redelivery of the same stream record carries the same id, for consumers to dedupe on.
 *
 * Detail schema version 1; no personal data (no names, ID numbers or openids), amounts in fen.
 */
export const EVENT_SOURCE = 'wechatpay.serverless';
export const EVENT_VERSION = 1;

export type DomainEventType =
  | 'payment.succeeded'
  | 'payment.failed'
  | 'payment.closed'
  | 'refund.succeeded'
  | 'refund.abnormal'
  | 'refund.closed'
  | 'contract.signed'
  | 'contract.terminated'
  | 'contract.expired'
  | 'deduction.succeeded'
  | 'deduction.failed'
  | 'deduction.closed'
  | 'repayment.succeeded'
  | 'repayment.failed'
  | 'reconciliation.difference';

export const DOMAIN_EVENT_TYPES: readonly DomainEventType[] = [
  'payment.succeeded',
  'payment.failed',
  'payment.closed',
  'refund.succeeded',
  'refund.abnormal',
  'refund.closed',
  'contract.signed',
  'contract.terminated',
  'contract.expired',
  'deduction.succeeded',
  'deduction.failed',
  'deduction.closed',
  'repayment.succeeded',
  'repayment.failed',
  'reconciliation.difference',
];

export interface DomainEvent {
  id: string;
  type: DomainEventType;
  version: typeof EVENT_VERSION;
  /** When the change was recorded (RFC 3339, Beijing time). */
  occurred_at: string;
  data: Record<string, string | number>;
}

/** (record kind, state reached) → event type and the product it is about. */
const TRANSITIONS: Record<string, Record<string, DomainEventType>> = {
  H5_ORDER: { SUCCESS: 'payment.succeeded', PAYERROR: 'payment.failed', CLOSED: 'payment.closed', REVOKED: 'payment.closed' },
  CONTRACT_ORDER: { SUCCESS: 'payment.succeeded', PAYERROR: 'payment.failed', CLOSED: 'payment.closed' },
  CONTRACT_CODE: { SIGNED: 'contract.signed', TERMINATED: 'contract.terminated' },
  REPAYMENT_CONTRACT: { SIGNED: 'contract.signed', TERMINATED: 'contract.terminated', EXPIRED: 'contract.expired' },
  DEDUCTION: { SUCCESS: 'deduction.succeeded', PAY_FAIL: 'deduction.failed', CLOSED: 'deduction.closed' },
  REFUND: { SUCCESS: 'refund.succeeded', ABNORMAL: 'refund.abnormal', CLOSED: 'refund.closed' },
  REPAYMENT: { PAY_SUCCESS: 'repayment.succeeded', PAY_FAIL: 'repayment.failed' },
};

const PRODUCTS: Record<string, string> = {
  H5_ORDER: 'h5',
  CONTRACT_ORDER: 'pay_and_sign',
  CONTRACT_CODE: 'papay',
  REPAYMENT_CONTRACT: 'credit_repayment',
  DEDUCTION: 'papay',
  REFUND: 'refund',
  REPAYMENT: 'credit_repayment',
};

/** Business keys, amounts and WeChat's ids only: never a name, an ID number or an openid. */
const DATA_FIELDS = [
  'out_trade_no',
  'out_refund_no',
  'out_contract_code',
  'contract_code',
  'contract_id',
  'transaction_id',
  'refund_id',
  'amount_total',
  'amount_refund',
  'total_fee',
  'deduct_amount',
  'pay_success_amount',
  'plan_id',
  'out_record_id',
  'err_code',
  'contract_terminated_mode',
  'contract_termination_mode',
  'difference',
  'key',
] as const;

function pick(record: Item): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const name of DATA_FIELDS) {
    const value = record[name];
    if (typeof value === 'string' || typeof value === 'number') out[name] = value;
  }
  return out;
}

function beijing(ms: unknown): string {
  const n = typeof ms === 'number' ? ms : Date.now();
  return `${new Date(n + 8 * 3600 * 1000).toISOString().slice(0, 19)}+08:00`;
}

const stableId = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);

/** The event one stream record means, or undefined (no state change, or nothing a merchant subscribes to). */
export function domainEventOf(oldImage: Item | undefined, newImage: Item | undefined): DomainEvent | undefined {
  if (!newImage) return undefined;
  const kind = String(newImage['kind'] ?? '');
  if (kind === 'RECONCILIATION_DIFFERENCE') {
    if (oldImage) return undefined; // a re-run rewrites the same difference: reported once, when first found
    return {
      id: stableId(String(newImage['pk']), String(newImage['sk'])),
      type: 'reconciliation.difference',
      version: EVENT_VERSION,
      occurred_at: beijing(newImage['found_at']),
      data: { date: String(newImage['pk']).replace(/^RECON#/, ''), ...pick(newImage) },
    };
  }
  const state = newImage['state'];
  if (typeof state !== 'string' || state === oldImage?.['state']) return undefined;
  const type = TRANSITIONS[kind]?.[state];
  if (!type) return undefined;
  return {
    id: stableId(String(newImage['pk']), String(newImage['sk']), state),
    type,
    version: EVENT_VERSION,
    occurred_at: beijing(newImage['updated_at']),
    data: { product: PRODUCTS[kind] ?? kind.toLowerCase(), state, ...pick(newImage) },
  };
}
