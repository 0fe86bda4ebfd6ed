/**
 * Trade bills (对账单) from the sandbox's own ledger: `GET /v3/bill/tradebill` answers the file's SHA-1 and a
 * download URL; `GET /v3/billdownload/file` (v3-signed request, unsigned answer) serves the CSV, gzipped when
 * `tar_type=GZIP`. The hash is over the uncompressed bytes, as WeChat documents.
 *
 * The CSV is WeChat's trade-bill layout: a header row, one row per payment (交易状态 SUCCESS) and per refund (REFUND)
 * of the day (Beijing time), every value prefixed with a backtick, amounts in yuan; then a totals header and row.
 * Discrepancies can be injected (`POST /sandbox/bill-discrepancy`) to prove a reconciliation notices them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { SandboxMerchant } from '../config';
import type { SandboxContext, V3Result } from '../context';
import { ApiError, paramError } from '../errors';
import { v2DateTime } from '../clock';

export const BILL_HEADER = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态', '付款银行',
  '货币种类', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称',
  '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注',
];
export const BILL_TOTALS_HEADER = ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'];

/** A discrepancy the sandbox writes into its bills (its ledger itself is left alone). */
export type BillDiscrepancy =
  /** A payment WeChat has whose notification and queries never reached the merchant. */
  | { kind: 'unknown-payment'; mchid: string; out_trade_no: string; amount: number; at_ms: number; transaction_id: string }
  /** A payment or refund shown with another amount. */
  | { kind: 'amount'; mchid: string; out_trade_no?: string; out_refund_no?: string; amount: number }
  /** A payment or refund left out of the bill. */
  | { kind: 'omit'; mchid: string; out_trade_no?: string; out_refund_no?: string };

const BEIJING_MS = 8 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;
/** Bills for a day are ready after 10:00 the next day, and kept three months (WeChat's rules). */
const READY_AFTER_MS = 10 * 3600 * 1000;
const RETENTION_DAYS = 92;

export function beijingDay(ms: number): string {
  return new Date(ms + BEIJING_MS).toISOString().slice(0, 10);
}

function dayStartMs(day: string): number {
  return Date.parse(`${day}T00:00:00+08:00`);
}

const yuan = (fen: number): string => `${fen < 0 ? '-' : ''}${Math.floor(Math.abs(fen) / 100)}.${String(Math.abs(fen) % 100).padStart(2, '0')}`;
/** WeChat prints its fee (0.6 % here) in yuan with five decimals: fen × 0.006 yuan = fen × 6 units of 0.00001 yuan. */
const feeUnits = (fen: number): number => fen * 6;
const units = (n: number): string => `${Math.floor(n / 100000)}.${String(n % 100000).padStart(5, '0')}`;
const cell = (value: string | number | undefined): string => `\`${value ?? ''}`;

interface Row {
  at_ms: number;
  cells: (string | number | undefined)[];
  settled: number;
  refund: number;
  feeUnits: number;
}

/** The rows of one merchant's bill for a Beijing day: payments, deductions and refunds that succeeded that day. */
function billRows(ctx: SandboxContext, mchid: string, day: string): Row[] {
  const from = dayStartMs(day);
  const until = from + DAY_MS;
  const inDay = (ms: number | undefined): ms is number => ms !== undefined && ms >= from && ms < until;
  const discrepancies = ctx.state.billDiscrepancies.filter((d) => d.mchid === mchid);
  const omitted = (k: { out_trade_no?: string; out_refund_no?: string }) =>
    discrepancies.some((d) => d.kind === 'omit' && ((k.out_refund_no && d.out_refund_no === k.out_refund_no) || (!k.out_refund_no && d.out_trade_no === k.out_trade_no)));
  const amountOf = (k: { out_trade_no?: string; out_refund_no?: string }, amount: number): number => {
    const hit = discrepancies.find((d) => d.kind === 'amount' && ((k.out_refund_no && d.out_refund_no === k.out_refund_no) || (!k.out_refund_no && d.out_trade_no === k.out_trade_no)));
    return hit?.kind === 'amount' ? hit.amount : amount;
  };

  const rows: Row[] = [];
  const payment = (p: { at: number; appid: string; transaction_id: string; out_trade_no: string; openid?: string | undefined; trade_type: string; amount: number; body: string; attach?: string | undefined }) => {
    if (omitted({ out_trade_no: p.out_trade_no })) return;
    const amount = amountOf({ out_trade_no: p.out_trade_no }, p.amount);
    const f = feeUnits(amount);
    rows.push({
      at_ms: p.at,
      settled: amount,
      refund: 0,
      feeUnits: f,
      cells: [v2DateTime(p.at), p.appid, mchid, '0', '', p.transaction_id, p.out_trade_no, p.openid ?? '', p.trade_type, 'SUCCESS', 'OTHERS', 'CNY',
        yuan(amount), '0.00', '0', '0', '0.00', '0.00', '', '', p.body, p.attach ?? '', units(f), '0.60%', yuan(amount), '0.00', ''],
    });
  };
  for (const o of ctx.state.orders.values()) {
    if (o.mchid !== mchid || !o.transaction_id || !inDay(o.success_ms)) continue;
    payment({
      at: o.success_ms,
      appid: o.appid,
      transaction_id: o.transaction_id,
      out_trade_no: o.out_trade_no,
      openid: o.openid,
      trade_type: o.kind === 'h5' ? 'MWEB' : o.trade_type,
      amount: o.kind === 'h5' ? o.total : o.total_fee,
      body: o.kind === 'h5' ? o.description : o.body,
      attach: o.attach,
    });
  }
  for (const o of ctx.state.papOrders.values()) {
    if (o.mchid !== mchid || o.trade_state !== 'SUCCESS' || !o.transaction_id || !inDay(o.success_ms)) continue;
    payment({ at: o.success_ms, appid: o.appid, transaction_id: o.transaction_id, out_trade_no: o.out_trade_no, openid: o.openid, trade_type: 'PAP', amount: o.total_fee, body: o.body, attach: o.attach });
  }
  for (const d of discrepancies) {
    if (d.kind !== 'unknown-payment' || !inDay(d.at_ms)) continue;
    const merchant = ctx.config.merchants.find((m) => m.mchid === mchid);
    payment({ at: d.at_ms, appid: merchant?.appids[0] ?? '', transaction_id: d.transaction_id, out_trade_no: d.out_trade_no, trade_type: 'MWEB', amount: d.amount, body: '未知订单' });
  }
  for (const r of ctx.state.refunds.values()) {
    if (r.mchid !== mchid || r.status !== 'SUCCESS' || !inDay(r.success_ms) || omitted({ out_refund_no: r.out_refund_no })) continue;
    const amount = amountOf({ out_refund_no: r.out_refund_no }, r.refund);
    rows.push({
      at_ms: r.success_ms,
      settled: 0,
      refund: amount,
      feeUnits: 0,
      cells: [v2DateTime(r.success_ms), r.appid, mchid, '0', '', r.transaction_id, r.out_trade_no, '', r.protocol === 'v3' ? 'MWEB' : 'APP', 'REFUND', 'OTHERS', 'CNY',
        '0.00', '0.00', r.refund_id, r.out_refund_no, yuan(amount), '0.00', 'ORIGINAL', 'SUCCESS', '', '', '-0.00000', '0.60%', '0.00', yuan(amount), ''],
    });
  }
  return rows.sort((a, b) => a.at_ms - b.at_ms);
}

export function renderTradeBill(ctx: SandboxContext, mchid: string, day: string): string {
  const rows = billRows(ctx, mchid, day);
  const sum = (f: (r: Row) => number) => rows.reduce((s, r) => s + f(r), 0);

  const lines = [
    BILL_HEADER.join(','),
    ...rows.map((r) => r.cells.map(cell).join(',')),
    BILL_TOTALS_HEADER.join(','),
    [rows.length, yuan(sum((r) => r.settled)), yuan(sum((r) => r.refund)), '0.00', units(sum((r) => r.feeUnits)), yuan(sum((r) => r.settled)), yuan(sum((r) => r.refund))]
      .map(cell)
      .join(','),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

interface BillToken {
  mchid: string;
  day: string;
  gzip: boolean;
  expires_ms: number;
}

/** `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD[&bill_type=ALL][&tar_type=GZIP]`. */
export function tradeBill(ctx: SandboxContext, merchant: SandboxMerchant, query: URLSearchParams, baseUrl: string): V3Result {
  const day = query.get('bill_date') ?? '';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(dayStartMs(day))) throw paramError('bill_date', day, '账单日期格式应为YYYY-MM-DD', { location: 'query' });
  const billType = query.get('bill_type') ?? 'ALL';
  if (billType !== 'ALL') throw paramError('bill_type', billType, '沙箱仅支持ALL', { location: 'query' });
  const tarType = query.get('tar_type');
  if (tarType !== null && tarType !== 'GZIP') throw paramError('tar_type', tarType, 'tar_type仅支持GZIP', { location: 'query' });
  const now = ctx.clock.now();
  const start = dayStartMs(day);
  if (now < start + DAY_MS + READY_AFTER_MS) throw new ApiError(400, 'NO_STATEMENT_EXIST', '账单尚未生成，请于次日10点后下载');
  if (now - start > RETENTION_DAYS * DAY_MS) throw new ApiError(400, 'NO_STATEMENT_EXIST', '仅支持下载三个月内的账单');
  const text = renderTradeBill(ctx, merchant.mchid, day);
  const token = randomBytes(16).toString('hex');
  ctx.state.billTokens.set(token, { mchid: merchant.mchid, day, gzip: tarType === 'GZIP', expires_ms: ctx.clock.real() + 30_000 } satisfies BillToken);
  return {
    status: 200,
    body: { hash_type: 'SHA1', hash_value: createHash('sha1').update(text, 'utf8').digest('hex'), download_url: `${baseUrl}/v3/billdownload/file?token=${token}` },
  };
}

/** `GET /v3/billdownload/file?token=…` for the merchant that asked for it: the bytes, not signed. */
export function billFile(ctx: SandboxContext, merchant: SandboxMerchant, token: string): { status: number; contentType: string; body: Buffer } {
  const t = ctx.state.billTokens.get(token) as BillToken | undefined;
  if (!t || t.mchid !== merchant.mchid || t.expires_ms < ctx.clock.real()) {
    return { status: 400, contentType: 'application/json', body: Buffer.from(JSON.stringify({ code: 'INVALID_REQUEST', message: '下载链接已失效' })) };
  }
  const text = Buffer.from(renderTradeBill(ctx, t.mchid, t.day), 'utf8');
  return t.gzip ? { status: 200, contentType: 'application/octet-stream', body: gzipSync(text) } : { status: 200, contentType: 'text/plain; charset=utf-8', body: text };
}

/** `POST /sandbox/bill-discrepancy`: the next bills carry it. */
export function addBillDiscrepancy(ctx: SandboxContext, input: Record<string, unknown>): { status: number; body: unknown } {
  const mchid = typeof input['mchid'] === 'string' ? input['mchid'] : ctx.config.merchants.find((m) => m.kind === 'direct')?.mchid ?? '';
  const outTradeNo = typeof input['out_trade_no'] === 'string' ? input['out_trade_no'] : undefined;
  const outRefundNo = typeof input['out_refund_no'] === 'string' ? input['out_refund_no'] : undefined;
  const amount = input['amount'];
  switch (input['kind']) {
    case 'unknown-payment':
      if (!outTradeNo || typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1) return { status: 400, body: { message: 'unknown-payment needs out_trade_no and amount (fen)' } };
      ctx.state.billDiscrepancies.push({ kind: 'unknown-payment', mchid, out_trade_no: outTradeNo, amount, at_ms: ctx.clock.now(), transaction_id: `4200${randomBytes(12).toString('hex')}` });
      break;
    case 'amount':
      if ((!outTradeNo && !outRefundNo) || typeof amount !== 'number' || !Number.isSafeInteger(amount)) return { status: 400, body: { message: 'amount needs out_trade_no or out_refund_no, and amount (fen)' } };
      ctx.state.billDiscrepancies.push({ kind: 'amount', mchid, ...(outTradeNo ? { out_trade_no: outTradeNo } : {}), ...(outRefundNo ? { out_refund_no: outRefundNo } : {}), amount });
      break;
    case 'omit':
      if (!outTradeNo && !outRefundNo) return { status: 400, body: { message: 'omit needs out_trade_no or out_refund_no' } };
      ctx.state.billDiscrepancies.push({ kind: 'omit', mchid, ...(outTradeNo ? { out_trade_no: outTradeNo } : {}), ...(outRefundNo ? { out_refund_no: outRefundNo } : {}) });
      break;
    default:
      return { status: 400, body: { message: 'kind must be unknown-payment, amount or omit' } };
  }
  return { status: 200, body: { ok: true, discrepancies: ctx.state.billDiscrepancies.length } };
}

