import { notFound } from '../http/errors';
import { RequestValidationError } from '../http/validation';
import type { Runtime } from '../runtime/container';
import { wechatBudgetMs } from '../runtime/invocation';
import { logger } from '../runtime/logger';
import { countReconciliationDifferences } from '../runtime/metrics';
import { downloadTradeBill, parseTradeBill } from './bill';
import { compareDay, type Difference } from './compare';
import { beijingDay } from './day';
import { settledOn } from './ours';
import { saveReconciliation, storedItems, type ReconciliationRun } from './store';

const DAY_MS = 24 * 3600 * 1000;
/** WeChat keeps bills for three months; asking for older ones only earns an error. */
const RETENTION_DAYS = 90;

/** The day before `nowMs` in Beijing time: what a run after 10:00 reconciles. */
export function previousDay(nowMs: number): string {
  return beijingDay(nowMs - DAY_MS);
}

export function checkDay(day: unknown, nowMs: number): string {
  const valid = typeof day === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(Date.parse(`${day}T00:00:00+08:00`));
  if (!valid) throw new RequestValidationError([{ field: 'date', message: 'must be a date, YYYY-MM-DD (Beijing time)' }]);
  const start = Date.parse(`${day}T00:00:00+08:00`);
  if (day >= beijingDay(nowMs)) throw new RequestValidationError([{ field: 'date', message: 'must be a past day: a bill exists only once its day is over (after 10:00 the next day)' }]);
  if (nowMs - start > RETENTION_DAYS * DAY_MS) throw new RequestValidationError([{ field: 'date', message: `must be within the last ${RETENTION_DAYS} days (WeChat's bill retention)` }]);
  return day;
}

/**
 * Reconciles one Beijing day for the direct merchant: WeChat's trade bill (hash-checked) against every settlement
 * we recorded that day (the sparse by_settled_day index), line by line both ways. Differences are stored (re-runnable:
 * the day's result is replaced), counted in `ReconciliationDifferences` (alarmed) and returned.
 */
export async function reconcileDay(rt: Runtime, dayInput: unknown): Promise<{ run: ReconciliationRun; differences: Difference[] }> {
  const day = checkDay(dayInput, rt.now());
  const merchant = await rt.merchants.get('direct');
  const [{ text, sha1 }, ours] = await Promise.all([downloadTradeBill(merchant, day, wechatBudgetMs('call')), settledOn(rt, day)]);
  const lines = parseTradeBill(text);
  const differences = compareDay(lines, ours);
  const run: ReconciliationRun = {
    day,
    mchid: merchant.mchid,
    ran_at: rt.now(),
    bill_sha1: sha1,
    bill_lines: lines.length,
    settled_here: ours.length,
    differences: differences.length,
  };
  await saveReconciliation(rt, run, differences);
  countReconciliationDifferences(differences.length);
  const log = differences.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
  log('reconciliation done', { day, bill_lines: lines.length, settled_here: ours.length, differences: differences.length, kinds: [...new Set(differences.map((d) => d.kind))] });
  return { run, differences };
}

export interface ReconciliationView {
  date: string;
  mchid: string;
  ran_at: string;
  bill: { sha1: string; lines: number };
  settled_here: number;
  differences: (Difference & { found_at: string })[];
}

/** `GET /reconciliation/{date}`: the day's last run and its differences. */
export async function getReconciliation(rt: Runtime, dayParam: string | undefined): Promise<ReconciliationView> {
  const day = checkDay(dayParam, rt.now() + DAY_MS);
  const items = await storedItems(rt, day);
  const run = items.find((i) => i['sk'] === 'RUN');
  if (!run) throw notFound(`a reconciliation of ${day}`);
  const iso = (ms: unknown) => new Date(Number(ms) + 8 * 3600 * 1000).toISOString().slice(0, 19) + '+08:00';
  return {
    date: day,
    mchid: String(run['mchid']),
    ran_at: iso(run['ran_at']),
    bill: { sha1: String(run['bill_sha1']), lines: Number(run['bill_lines']) },
    settled_here: Number(run['settled_here']),
    differences: items
      .filter((i) => i['kind'] === 'RECONCILIATION_DIFFERENCE')
      .map((i) => ({
        kind: i['difference'] as Difference['kind'],
        key: String(i['key']),
        out_trade_no: String(i['out_trade_no']),
        ...(i['out_refund_no'] ? { out_refund_no: String(i['out_refund_no']) } : {}),
        ...(i['wechat'] ? { wechat: i['wechat'] as Difference['wechat'] } : {}),
        ...(i['ours'] ? { ours: i['ours'] as Difference['ours'] } : {}),
        found_at: iso(i['found_at']),
      })),
  };
}
