import type { BillLine } from './bill';

/** A settled payment (H5, pay-and-sign, papay deduction) or refund as our table has it, amounts in fen. */
export interface SettledRecord {
  kind: 'payment' | 'refund';
  /** `PAY:<out_trade_no>` or `REFUND:<out_refund_no>`: what a bill line and a record are matched by. */
  key: string;
  out_trade_no: string;
  out_refund_no?: string;
  transaction_id?: string;
  amount: number;
  product: string;
}

export type DifferenceKind =
  /** WeChat settled it that day; we have no settlement of it that day (a lost notification, a missing query). */
  | 'NOT_RECORDED'
  /** We recorded a settlement that day that WeChat's bill does not have. */
  | 'NOT_IN_BILL'
  | 'AMOUNT_DIFFERS'
  | 'TRANSACTION_DIFFERS';

export interface Difference {
  kind: DifferenceKind;
  key: string;
  out_trade_no: string;
  out_refund_no?: string;
  wechat?: { amount: number; transaction_id: string; trade_type: string };
  ours?: { amount: number; transaction_id?: string; product: string };
}

export const lineKey = (line: BillLine): string => (line.kind === 'refund' ? `REFUND:${line.out_refund_no}` : `PAY:${line.out_trade_no}`);

/** Line by line, both ways. Each difference once, keyed so that a re-run finds the same one. */
export function compareDay(lines: readonly BillLine[], ours: readonly SettledRecord[]): Difference[] {
  const bill = new Map(lines.map((l) => [lineKey(l), l]));
  const mine = new Map(ours.map((r) => [r.key, r]));
  const differences: Difference[] = [];
  for (const [key, line] of bill) {
    const wechat = { amount: line.amount, transaction_id: line.transaction_id, trade_type: line.trade_type };
    const refund = line.kind === 'refund' ? { out_refund_no: line.out_refund_no! } : {};
    const record = mine.get(key);
    if (!record) {
      differences.push({ kind: 'NOT_RECORDED', key, out_trade_no: line.out_trade_no, ...refund, wechat });
      continue;
    }
    const ourSide = { amount: record.amount, product: record.product, ...(record.transaction_id ? { transaction_id: record.transaction_id } : {}) };
    if (record.amount !== line.amount) differences.push({ kind: 'AMOUNT_DIFFERS', key, out_trade_no: line.out_trade_no, ...refund, wechat, ours: ourSide });
    else if (line.kind === 'payment' && record.transaction_id && record.transaction_id !== line.transaction_id) {
      differences.push({ kind: 'TRANSACTION_DIFFERS', key, out_trade_no: line.out_trade_no, wechat, ours: ourSide });
    }
  }
  for (const [key, record] of mine) {
    if (bill.has(key)) continue;
    differences.push({
      kind: 'NOT_IN_BILL',
      key,
      out_trade_no: record.out_trade_no,
      ...(record.out_refund_no ? { out_refund_no: record.out_refund_no } : {}),
      ours: { amount: record.amount, product: record.product, ...(record.transaction_id ? { transaction_id: record.transaction_id } : {}) },
    });
  }
  return differences.sort((a, b) => `${a.kind}${a.key}`.localeCompare(`${b.kind}${b.key}`));
}
