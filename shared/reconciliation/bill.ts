import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { MerchantContext } from '../merchant/context';
import { WechatPayApiError } from '../wechatpay';

export const TRADE_BILL_PATH = '/v3/bill/tradebill';

/** One payment (交易状态 SUCCESS) or refund (REFUND) line of a trade bill, amounts in fen. */
export interface BillLine {
  kind: 'payment' | 'refund';
  out_trade_no: string;
  transaction_id: string;
  trade_type: string;
  /** The payment's settled amount, or the refund's amount. */
  amount: number;
  out_refund_no?: string;
  refund_id?: string;
  refund_state?: string;
}

export class BillNotReadyError extends Error {
  override name = 'BillNotReadyError';
}

export class BillIntegrityError extends Error {
  override name = 'BillIntegrityError';
}

/**
 * Yesterday's trade bill (APIv3): the signed answer names a download URL and the file's SHA-1; the file (gzip) is
 * fetched with a signed GET, decompressed, and refused unless its SHA-1 matches (WeChat does not sign the file).
 */
export async function downloadTradeBill(merchant: MerchantContext, day: string, budgetMs: number | undefined): Promise<{ text: string; sha1: string }> {
  let answer: { hash_type?: string; hash_value?: string; download_url?: string } | undefined;
  try {
    answer = (await merchant.v3.request<{ hash_type?: string; hash_value?: string; download_url?: string }>({
      method: 'GET',
      path: TRADE_BILL_PATH,
      query: { bill_date: day, bill_type: 'ALL', tar_type: 'GZIP' },
      ...(budgetMs !== undefined ? { budgetMs } : {}),
    })).data;
  } catch (error) {
    if (error instanceof WechatPayApiError && error.code === 'NO_STATEMENT_EXIST') throw new BillNotReadyError(`no bill for ${day} yet: ${error.message}`);
    throw error;
  }
  if (!answer?.download_url || !answer.hash_value || (answer.hash_type ?? 'SHA1').toUpperCase() !== 'SHA1') {
    throw new BillIntegrityError('the tradebill answer has no download_url or SHA1 hash');
  }
  const packed = await merchant.v3.download(answer.download_url, budgetMs !== undefined ? { budgetMs } : {});
  const bytes = gunzipSync(packed);
  const sha1 = createHash('sha1').update(bytes).digest('hex');
  if (sha1.toLowerCase() !== answer.hash_value.toLowerCase()) throw new BillIntegrityError(`the bill for ${day} does not match its SHA-1`);
  return { text: bytes.toString('utf8'), sha1 };
}

/** Yuan as WeChat prints it ("19.99", "-0.01") → integer fen, by string, never through a float. */
export function yuanToFen(value: string): number {
  const m = /^(-)?(\d+)(?:\.(\d{1,2}))?$/.exec(value.trim());
  if (!m) throw new BillIntegrityError(`not an amount: ${JSON.stringify(value)}`);
  const fen = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -fen : fen;
}

/** The trade bill's lines (csv-parse): header, one row per payment and refund, then the totals (not lines). */
export function parseTradeBill(text: string): BillLine[] {
  const rows = parse(text.replace(/^\uFEFF/, ''), { relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][];
  const header = rows[0];
  if (!header || header[0] !== '交易时间') throw new BillIntegrityError('the bill has no trade-bill header');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new BillIntegrityError(`the bill has no ${name} column`);
    return i;
  };
  const c = {
    transaction_id: col('微信订单号'),
    out_trade_no: col('商户订单号'),
    trade_type: col('交易类型'),
    state: col('交易状态'),
    settled: col('应结订单金额'),
    refund_id: col('微信退款单号'),
    out_refund_no: col('商户退款单号'),
    refund: col('退款金额'),
    refund_state: col('退款状态'),
  };
  const lines: BillLine[] = [];
  for (const raw of rows.slice(1)) {
    if (raw[0] === '总交易单数') break;
    const cell = (i: number) => (raw[i] ?? '').replace(/^`/, '');
    const state = cell(c.state);
    const base = { out_trade_no: cell(c.out_trade_no), transaction_id: cell(c.transaction_id), trade_type: cell(c.trade_type) };
    if (state === 'REFUND') {
      lines.push({ kind: 'refund', ...base, amount: yuanToFen(cell(c.refund)), out_refund_no: cell(c.out_refund_no), refund_id: cell(c.refund_id), refund_state: cell(c.refund_state) });
    } else if (state === 'SUCCESS') {
      lines.push({ kind: 'payment', ...base, amount: yuanToFen(cell(c.settled)) });
    }
  }
  return lines;
}
