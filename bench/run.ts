/**
 * `npm run bench`: every section once, each printing its table; then the goal checks and a JSON summary.
 *
 *   protocol    shared/wechatpay vs raw node:crypto and the peer SDKs (bench/protocol.ts)
 *   coldstart   bundle size and module init per serverless.yml function vs an SDK-only baseline (bench/coldstart.ts)
 *   warm        p50/p99 and round trips per invocation against DynamoDB Local + the sandbox (bench/warm.ts),
 *               and cold start end to end in fresh processes against the same stack
 *   throughput  H5 notify handler vs raw conditional UpdateItem at concurrency 1/8/32 (bench/throughput.ts)
 *   pending     the recovery sweeper's Query on the sparse pending index vs a Scan: 100,000 final + 100 pending (bench/pending.ts)
 *
 * Options (argv): --quick (fewer, shorter rounds), --only=<list> or --only <list>: comma-separated section names,
 * or substrings of protocol group names (e.g. --only=GCM), or both.
 * Add a protocol suite by exporting a `BenchSuite` from a file in bench/ and listing it below.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { type GroupResult, type HarnessOptions, formatTable, keepSinkAlive, runGroup } from './harness';
import { formatChecks, type Check, type SectionReport } from './stats';

const SECTIONS = ['protocol', 'coldstart', 'warm', 'throughput', 'pending'] as const;
type Section = (typeof SECTIONS)[number];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyIndex = args.indexOf('--only');
const onlyRaw = args.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (onlyIndex >= 0 ? args[onlyIndex + 1] : undefined);
const only = onlyRaw?.split(',').map((s) => s.trim()).filter(Boolean);
const sectionFilter = only?.filter((s): s is Section => (SECTIONS as readonly string[]).includes(s)) ?? [];
const groupFilter = only?.filter((s) => !(SECTIONS as readonly string[]).includes(s)) ?? [];
const selected = (section: Section) =>
  only === undefined || sectionFilter.includes(section) || (section === 'protocol' && groupFilter.length > 0);

const options: HarnessOptions = quick ? { rounds: 3, msPerSample: 100, warmupMs: 50 } : { rounds: 7, msPerSample: 180, warmupMs: 150 };

const started = Date.now();
const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
console.log(`machine: ${machine}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}${quick ? '; --quick' : ''}`);

const reports: SectionReport[] = [];
const checks: Check[] = [];
let protocolResults: GroupResult[] = [];

if (selected('protocol')) {
  const sectionStart = Date.now();
  const { protocolSuite } = await import('./protocol');
  const suites = [protocolSuite];
  for (const suite of suites) {
    for (const group of suite.groups) {
      if (groupFilter.length > 0 && !groupFilter.some((g) => group.name.includes(g))) continue;
      const result = runGroup(suite.name, group, options);
      protocolResults.push(result);
      process.stderr.write(`  ${group.name}: ours/${result.baseline} ${result.ratio?.toFixed(3) ?? '—'}\n`);
    }
  }
  keepSinkAlive();
  const load = loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(
    `\n### Protocol: ${options.rounds} interleaved rounds × ${options.msPerSample} ms per variant, medians; ` +
      `${((Date.now() - sectionStart) / 1000).toFixed(1)} s; load average ${load}\n`,
  );
  console.log(formatTable(protocolResults));
  const notes = suites.flatMap((s) => s.groups.flatMap((g) => g.variants.filter((v) => v.note !== undefined).map((v) => `  ${g.name} / ${v.label}: ${v.note}`)));
  if (notes.length > 0) console.log(`\nnotes (peer = wechatpay-axios-plugin, node-v3 = wechatpay-node-v3):\n${notes.join('\n')}`);
  for (const r of protocolResults) {
    if (r.ratio !== undefined && r.target !== undefined) {
      checks.push({ name: `protocol ${r.name}: ours/${r.baseline}`, value: `${r.ratio.toFixed(3)}×`, goal: `≥ ${r.target}×`, ok: r.ratio >= r.target });
    }
  }
}

const print = (report: SectionReport) => {
  reports.push(report);
  checks.push(...report.checks);
  console.log(`\n${report.markdown}`);
};

if (selected('coldstart')) {
  const { runColdstart } = await import('./coldstart');
  print(await runColdstart({ rounds: quick ? 5 : 15 }));
}

if (selected('warm') || selected('throughput')) {
  const { startBenchStack } = await import('./stack');
  const { orderTemplate, runWarm } = await import('./warm');
  const stack = await startBenchStack();
  try {
    let template = undefined as Awaited<ReturnType<typeof orderTemplate>> | undefined;
    if (selected('warm')) {
      const warm = await runWarm(stack, { iterations: quick ? 60 : 300, warmup: quick ? 10 : 30, probeRounds: quick ? 3 : 7 });
      template = warm.template;
      print(warm);
    }
    if (selected('throughput')) {
      const { runThroughput } = await import('./throughput');
      template ??= await orderTemplate(stack);
      // A few operations per worker per chunk: short enough to interleave finely, long enough to fill the workers.
      const ops = (c: number) => Math.max(24, 6 * c);
      print(await runThroughput(stack, template, { concurrencies: [1, 8, 32], pairs: quick ? 5 : 15, opsPerChunk: ops }));
    }
  } finally {
    await stack.close();
  }
}

if (selected('pending')) {
  const { runPending } = await import('./pending');
  print(await runPending({ finalItems: quick ? 20_000 : 100_000, pendingItems: 100, rounds: quick ? 3 : 7 }));
}

const below = checks.filter((c) => !c.ok);
console.log(`\n### Goals (${checks.length - below.length} of ${checks.length} met)\n\n${formatChecks(checks)}`);
console.log(below.length === 0 ? '\nall goals met' : `\nBELOW GOAL: ${below.map((c) => c.name).join('; ')}`);
console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s; load average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(
  `\n${JSON.stringify({
    machine,
    protocol: protocolResults.map((r) => ({
      suite: r.suite,
      name: r.name,
      ratio: r.ratio === undefined ? null : Number(r.ratio.toFixed(4)),
      target: r.target ?? null,
      opsPerSecond: Object.fromEntries(r.variants.map((v) => [v.label, Math.round(v.medianOpsPerSecond)])),
    })),
    ...Object.fromEntries(reports.map((r) => [r.section, r.data])),
    checks,
  })}`,
);
