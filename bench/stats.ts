/**
 * Small helpers shared by the coldstart / warm / throughput sections: order statistics, a markdown table,
 * progress lines that bypass process.stdout (which the in-process sections silence), and silencing itself.
 */
import { writeSync } from 'node:fs';

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100) of a non-empty sample; NaN for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  if (p === 50 && sorted.length % 2 === 0) {
    return ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2;
  }
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function ms(ns: bigint): number {
  return Number(ns) / 1e6;
}

export function fmt(value: number | undefined, digits = 1): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  return value.toFixed(digits);
}

export function kb(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}

/** A markdown table (also readable as plain text): first column left-aligned, the others right-aligned. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map((r) => line(header.map((_, i) => r[i] ?? '')))].join('\n');
}

/** Progress to stderr, written synchronously to fd 2 so it still shows while the streams are silenced. */
export function progress(message: string): void {
  writeSync(2, `  ${message}\n`);
}

/**
 * Runs `fn` with process.stdout / process.stderr writes discarded: the handlers log one Powertools JSON line (and
 * an EMF metrics line) per invocation. The lines are still formatted — only the terminal I/O is skipped — so the
 * logging cost stays in the measurement, as it is on Lambda.
 */
export async function silenced<T>(fn: () => Promise<T>): Promise<T> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  const discard = ((_chunk: unknown, encoding?: unknown, callback?: unknown) => {
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (typeof cb === 'function') queueMicrotask(cb as () => void);
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = discard;
  process.stderr.write = discard;
  try {
    return await fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** One goal check, printed under the section and collected into the summary. */
export interface Check {
  name: string;
  /** e.g. '0.93×' or '+412 KB' */
  value: string;
  /** e.g. '≥ 0.8×' */
  goal: string;
  ok: boolean;
}

export interface SectionReport {
  section: string;
  /** Markdown: tables and notes, printed as is (and pasted into bench/RESULTS.md). */
  markdown: string;
  checks: Check[];
  /** Raw numbers for the JSON summary. */
  data: unknown;
}

export function formatChecks(checks: readonly Check[]): string {
  return checks.map((c) => `  ${c.ok ? 'ok   ' : 'BELOW'} ${c.name}: ${c.value} (goal ${c.goal})`).join('\n');
}
