/**
 * A small comparative benchmark harness for noisy machines: the variants of one operation run
 * interleaved batch by batch (~0.5 ms each, rotating who goes first), in several rounds; a round's
 * rate is its median batch, the table shows the median over rounds per variant and the median of
 * the per-round ours/baseline ratios.
 */

export interface Variant {
  /** e.g. 'ours', 'raw', 'peer' */
  label: string;
  /** One operation. Its result is kept so the work cannot be optimised away. */
  run: () => unknown;
  /** What exactly this variant does, for the notes under the table. */
  note?: string;
}

export interface BenchGroup {
  name: string;
  variants: Variant[];
  /** Label of the variant ratios are taken against (default 'raw'). */
  baseline?: string;
  /** Minimum acceptable ours/baseline ratio, shown as a target. */
  target?: number;
}

export interface BenchSuite {
  name: string;
  groups: BenchGroup[];
}

export interface HarnessOptions {
  rounds: number;
  msPerSample: number;
  warmupMs: number;
}

export interface VariantResult {
  label: string;
  medianOpsPerSecond: number;
  samples: number[];
}

export interface GroupResult {
  suite: string;
  name: string;
  baseline: string;
  target: number | undefined;
  variants: VariantResult[];
  /** ours / baseline: median of the per-round ratios. */
  ratio: number | undefined;
}

let sink: unknown;

/** Keeps results observable so the JIT cannot drop the benchmarked work. */
export function consume(value: unknown): void {
  sink = value;
}

function nowNs(): bigint {
  return process.hrtime.bigint();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Runs `fn` in batches for about `ms` milliseconds; returns ops/s. Used for warm-up and calibration. */
function sample(fn: () => unknown, ms: number, batch: number): number {
  const budget = BigInt(Math.round(ms * 1e6));
  let operations = 0;
  const start = nowNs();
  let elapsed = 0n;
  do {
    for (let i = 0; i < batch; i++) sink = fn();
    operations += batch;
    elapsed = nowNs() - start;
  } while (elapsed < budget);
  return operations / (Number(elapsed) / 1e9);
}

/** Batch size such that one batch takes about 0.5 ms: short enough to interleave finely. */
function calibrate(fn: () => unknown, warmupMs: number): number {
  const opsPerSecond = sample(fn, warmupMs, 1);
  return Math.max(1, Math.round(opsPerSecond / 2000));
}

/**
 * One round: the variants take turns batch by batch (A B C A B C …) until each has had about
 * `msPerVariant`, so a load spike from another process hits all of them alike. Each variant's rate
 * is taken from the MEDIAN batch: on a shared machine some batches get preempted by other processes,
 * and the median ignores those without favouring any variant.
 */
function runRound(variants: Variant[], batches: number[], msPerVariant: number, offset: number): number[] {
  const n = variants.length;
  const nsPerOp: number[][] = variants.map(() => []);
  const deadline = nowNs() + BigInt(Math.round(msPerVariant * n * 1e6));
  while (nowNs() < deadline) {
    for (let k = 0; k < n; k++) {
      const index = (offset + k) % n;
      const { run } = variants[index] as Variant;
      const batch = batches[index] as number;
      const start = nowNs();
      for (let i = 0; i < batch; i++) sink = run();
      (nsPerOp[index] as number[]).push(Number(nowNs() - start) / batch);
    }
  }
  return nsPerOp.map((values) => 1e9 / median(values));
}

export function runGroup(suite: string, group: BenchGroup, options: HarnessOptions): GroupResult {
  const batches = group.variants.map((variant) => calibrate(variant.run, options.warmupMs));
  const samples: number[][] = group.variants.map(() => []);
  const baseline = group.baseline ?? 'raw';
  const oursIndex = group.variants.findIndex((v) => v.label === 'ours');
  const baseIndex = group.variants.findIndex((v) => v.label === baseline);
  const ratios: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    // Rotate who goes first each round.
    const opsPerSecond = runRound(group.variants, batches, options.msPerSample, round);
    opsPerSecond.forEach((value, index) => (samples[index] as number[]).push(value));
    if (oursIndex >= 0 && baseIndex >= 0) ratios.push((opsPerSecond[oursIndex] as number) / (opsPerSecond[baseIndex] as number));
  }
  const variants = group.variants.map((variant, index) => ({
    label: variant.label,
    medianOpsPerSecond: median(samples[index] as number[]),
    samples: samples[index] as number[],
  }));
  // Median of the per-round ratios: each ratio compares variants measured side by side.
  const ratio = ratios.length > 0 ? median(ratios) : undefined;
  return { suite, name: group.name, baseline, target: group.target, variants, ratio };
}

function formatOps(value: number | undefined): string {
  if (value === undefined) return '—';
  if (value >= 100_000) return `${Math.round(value / 1000).toLocaleString('en-US')}k`;
  return Math.round(value).toLocaleString('en-US');
}

/**
 * A plain-text (markdown) table: one row per group, ops/s of ours, the baseline and every other variant label
 * (e.g. peer = wechatpay-axios-plugin, node-v3 = wechatpay-node-v3), then ours/baseline and each other/baseline.
 */
export function formatTable(results: GroupResult[]): string {
  const others = [...new Set(results.flatMap((r) => r.variants.map((v) => v.label).filter((l) => l !== 'ours' && l !== r.baseline)))];
  const header = ['operation', 'ours ops/s', 'raw ops/s', ...others.map((l) => `${l} ops/s`), 'ours/raw', ...others.map((l) => `${l}/raw`), 'target'];
  const rows = results.map((result) => {
    const get = (label: string) => result.variants.find((v) => v.label === label)?.medianOpsPerSecond;
    const raw = get(result.baseline);
    const ok = result.ratio !== undefined && result.target !== undefined ? (result.ratio >= result.target ? 'ok' : 'BELOW') : '';
    return [
      result.name,
      formatOps(get('ours')),
      formatOps(raw),
      ...others.map((l) => formatOps(get(l))),
      result.ratio === undefined ? '—' : result.ratio.toFixed(3),
      ...others.map((l) => {
        const value = get(l);
        return value === undefined || raw === undefined ? '—' : (value / raw).toFixed(3);
      }),
      result.target === undefined ? '' : `≥ ${result.target} ${ok}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function keepSinkAlive(): unknown {
  return sink;
}
