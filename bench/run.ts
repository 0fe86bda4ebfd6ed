/**
 * `npm run bench`: runs every benchmark suite once and prints a table plus a JSON summary.
 * Add a suite by exporting a `BenchSuite` from a file in bench/ and listing it below.
 *
 * Options (argv): --quick (fewer, shorter rounds), --only=<substring> (group names).
 */
import { availableParallelism, loadavg } from 'node:os';
import { type GroupResult, type HarnessOptions, formatTable, keepSinkAlive, runGroup } from './harness';
import { protocolSuite } from './protocol';

const suites = [protocolSuite];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const options: HarnessOptions = quick ? { rounds: 3, msPerSample: 100, warmupMs: 50 } : { rounds: 7, msPerSample: 180, warmupMs: 150 };

const started = Date.now();
const results: GroupResult[] = [];
for (const suite of suites) {
  for (const group of suite.groups) {
    if (only !== undefined && !group.name.includes(only)) continue;
    const result = runGroup(suite.name, group, options);
    results.push(result);
    process.stderr.write(`  ${group.name}: ours/${result.baseline} ${result.ratio?.toFixed(3) ?? '—'}\n`);
  }
}
keepSinkAlive();

const load = loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(
  `\nnode ${process.version}, ${options.rounds} interleaved rounds × ${options.msPerSample} ms per variant, medians; ` +
    `${((Date.now() - started) / 1000).toFixed(1)} s; load average ${load} on ${availableParallelism()} CPUs\n`,
);
console.log(formatTable(results));
const notes = suites.flatMap((s) => s.groups.flatMap((g) => g.variants.filter((v) => v.note !== undefined).map((v) => `  ${g.name} / ${v.label}: ${v.note}`)));
if (notes.length > 0) console.log(`\nnotes:\n${notes.join('\n')}`);
const below = results.filter((r) => r.ratio !== undefined && r.target !== undefined && r.ratio < r.target);
console.log(below.length === 0 ? '\nall ratios at or above target' : `\nBELOW TARGET: ${below.map((r) => r.name).join(', ')}`);
console.log(
  `\n${JSON.stringify(
    results.map((r) => ({
      suite: r.suite,
      name: r.name,
      ratio: r.ratio === undefined ? null : Number(r.ratio.toFixed(4)),
      target: r.target ?? null,
      opsPerSecond: Object.fromEntries(r.variants.map((v) => [v.label, Math.round(v.medianOpsPerSecond)])),
    })),
  )}`,
);
