/**
 * Cold start per function: every handler of serverless.yml's `functions:` built with serverless.yml's
 * custom.esbuild options, twice — AWS SDK bundled (what `exclude: []` does today) and `@aws-sdk/*` external
 * (Lambda's nodejs22.x runtime ships SDK v3) — beside a BASELINE that only imports the two SDK clients, built the
 * same two ways. Reports the minified size and the module init time (dynamic import in a fresh node process),
 * median of interleaved rounds, and the per-round ratio to the baseline of the same round and variant.
 * The authorizer is also invoked twice in each of its probes (JWT_PUBLIC_KEY, no AWS): first vs warm invocation.
 */
import { rmSync } from 'node:fs';
import { generateJwtConfig } from '../scripts/local/generate';
import { mintDevToken } from '../scripts/local/token';
import { buildBundle, lambdaNodeOptions, planBuilds, type BuildPlan, type BuiltBundle } from './build';
import { runProbe, type ProbeResult } from './probe';
import { fmt, kb, markdownTable, median, progress, type Check, type SectionReport } from './stats';

export const SIZE_GOAL_KB = 100;
export const INIT_GOAL = 1.2;
/** The function also probed without --enable-source-maps. */
const SOURCE_MAP_PROBE = 'notifyH5Payment';

/** Whether serverless.yml runs the functions with --enable-source-maps (it did until bench/ priced it). */
export function sourceMapsOn(): boolean {
  return lambdaNodeOptions().includes('--enable-source-maps');
}
const VARIANTS = ['bundled', 'external'] as const;
type VariantName = (typeof VARIANTS)[number];

export interface ColdstartOptions {
  rounds: number;
  /** Keep the bundles (default: removed after the run). */
  keep?: boolean;
}

export async function runColdstart(options: ColdstartOptions): Promise<SectionReport> {
  const plan = planBuilds();
  try {
    return await measure(plan, options);
  } finally {
    if (!options.keep) rmSync(plan.dir, { recursive: true, force: true });
  }
}

async function measure(plan: BuildPlan, options: ColdstartOptions): Promise<SectionReport> {
  const names = ['baseline', ...Object.keys(plan.functions)];
  progress(`coldstart: building ${names.length} × 2 bundles in ${plan.dir}`);
  const built = new Map<string, BuiltBundle>();
  for (const name of names) {
    for (const variant of VARIANTS) built.set(`${name}/${variant}`, await buildBundle(plan, name, variant));
  }

  const jwt = await generateJwtConfig();
  const token = await mintDevToken(jwt, { scope: 'payments:write' });
  const authorizerEvent = (i: number) => ({
    version: '2.0',
    type: 'REQUEST',
    routeKey: 'POST /h5-orders',
    headers: { authorization: `Bearer ${token}` },
    identitySource: [`Bearer ${token}`],
    requestContext: { requestId: `bench-auth-${i}`, routeKey: 'POST /h5-orders' },
  });
  const authorizerEnv = { JWT_ISSUER: jwt.issuer, JWT_AUDIENCE: jwt.audience, JWT_PUBLIC_KEY: jwt.publicKeyPem };

  // When serverless.yml turns source maps on, two more probes without them price the maps.
  const NO_SOURCE_MAPS = ' (no source maps)';
  const smProbes = sourceMapsOn() ? ['baseline/bundled', `${SOURCE_MAP_PROBE}/bundled`].filter((k) => built.has(k)) : [];
  // Interleaved: each round probes every bundle once, starting at a different bundle each round.
  const keys = [...built.keys(), ...smProbes.map((k) => `${k}${NO_SOURCE_MAPS}`)];
  const samples = new Map<string, ProbeResult[]>(keys.map((k) => [k, []]));
  const started = Date.now();
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < keys.length; k++) {
      const key = keys[(round + k) % keys.length] as string;
      const bundle = built.get(key.replace(NO_SOURCE_MAPS, '')) as BuiltBundle;
      const isAuthorizer = bundle.name === 'authorizer';
      const noMaps: Record<string, string> = key.endsWith(NO_SOURCE_MAPS) ? { NODE_OPTIONS: '' } : {};
      const result = await runProbe(
        bundle.file,
        isAuthorizer ? { env: { ...authorizerEnv, ...noMaps }, invoke: { functionName: 'authorizer', events: [authorizerEvent(0), authorizerEvent(1)] } } : { env: noMaps },
      );
      (samples.get(key) as ProbeResult[]).push(result);
    }
    if (round === 0) progress(`coldstart: round 1/${options.rounds} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  const importOf = (key: string) => (samples.get(key) as ProbeResult[]).map((r) => r.importMs);
  const perRoundRatio = (a: string, b: string) => {
    const x = importOf(a);
    const y = importOf(b);
    return median(x.map((v, i) => v / (y[i] as number)));
  };

  const checks: Check[] = [];
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  const functions = names.filter((n) => n !== 'baseline');
  const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;
  const worst: Record<VariantName, { size: [string, number]; init: [string, number] }> = {
    bundled: { size: ['', -Infinity], init: ['', -Infinity] },
    external: { size: ['', -Infinity], init: ['', -Infinity] },
  };
  for (const name of names) {
    const row: string[] = [name];
    const entry: Record<string, unknown> = {};
    for (const variant of VARIANTS) {
      const key = `${name}/${variant}`;
      const bundle = built.get(key) as BuiltBundle;
      const base = built.get(`baseline/${variant}`) as BuiltBundle;
      const init = median(importOf(key));
      const deltaKb = (bundle.bytes - base.bytes) / 1024;
      const ratio = name === 'baseline' ? 1 : perRoundRatio(key, `baseline/${variant}`);
      if (name === 'baseline') {
        row.push(kb(bundle.bytes), '', fmt(init), '');
      } else {
        row.push(kb(bundle.bytes), `${signed(deltaKb)}${deltaKb > SIZE_GOAL_KB ? ' !' : ''}`, fmt(init), `${ratio.toFixed(2)}×${ratio > INIT_GOAL ? ' !' : ''}`);
        const w = worst[variant];
        if (deltaKb > w.size[1]) w.size = [name, deltaKb];
        if (ratio > w.init[1]) w.init = [name, ratio];
      }
      entry[variant] = { bytes: bundle.bytes, zippedBytes: bundle.zippedBytes, deltaKb, initMs: init, initRatio: ratio, samples: importOf(key) };
    }
    const extOverBundled = perRoundRatio(`${name}/external`, `${name}/bundled`);
    row.push(`${extOverBundled.toFixed(2)}×`);
    entry.externalOverBundled = extOverBundled;
    data[name] = entry;
    rows.push(row);
  }
  // All functions but the authorizer are within a few KB of each other, so their spread is mostly noise: the goal is
  // judged on the median function, and the largest value is shown beside it.
  for (const variant of VARIANTS) {
    const w = worst[variant];
    const entries = functions.map((name) => (data[name] as Record<VariantName, { deltaKb: number; initRatio: number }>)[variant]);
    const sizeMedian = median(entries.map((e) => e.deltaKb));
    const initMedian = median(entries.map((e) => e.initRatio));
    checks.push({ name: `cold size Δ vs baseline, SDK ${variant}, median function (largest: ${w.size[0]} ${signed(w.size[1])} KB)`, value: `${signed(sizeMedian)} KB`, goal: `≤ +${SIZE_GOAL_KB} KB`, ok: sizeMedian <= SIZE_GOAL_KB });
    checks.push({ name: `cold init vs baseline, SDK ${variant}, median function (largest: ${w.init[0]} ${w.init[1].toFixed(2)}×)`, value: `${initMedian.toFixed(2)}×`, goal: `≤ ${INIT_GOAL}×`, ok: initMedian <= INIT_GOAL });
  }

  const smLines: string[] = [];
  for (const key of smProbes) {
    const withMaps = median(importOf(key));
    const without = median(importOf(`${key}${NO_SOURCE_MAPS}`));
    const ratio = perRoundRatio(key, `${key}${NO_SOURCE_MAPS}`);
    smLines.push(`${key.replace('/bundled', '')}: ${fmt(without)} ms without, ${fmt(withMaps)} ms with (${ratio.toFixed(2)}×)`);
    data[`${key}${NO_SOURCE_MAPS}`] = { initMs: without, samples: importOf(`${key}${NO_SOURCE_MAPS}`), withOverWithout: ratio };
  }

  // What each function adds beyond the SDK clients, by package (bundled variant; the external one is the same minus the SDK).
  const adds: string[] = [];
  for (const name of functions) {
    const bundle = built.get(`${name}/bundled`) as BuiltBundle;
    const base = built.get('baseline/bundled') as BuiltBundle;
    const extra = Object.entries(bundle.byPackage)
      .map(([pkg, bytes]) => [pkg, bytes - (base.byPackage[pkg] ?? 0)] as const)
      .filter(([, bytes]) => bytes > 512)
      .sort((a, b) => b[1] - a[1]);
    const total = extra.reduce((sum, [, bytes]) => sum + bytes, 0);
    adds.push(`- ${name}: ${kb(total)} KB — ${extra.slice(0, 6).map(([pkg, bytes]) => `${pkg} ${kb(bytes)}`).join(', ')}`);
  }

  const auth = samples.get('authorizer/bundled') ?? [];
  const authExt = samples.get('authorizer/external') ?? [];
  const inv = (results: ProbeResult[], i: number) => median(results.map((r) => r.invocations[i]?.ms ?? Number.NaN));
  const outcomes = new Set([...auth, ...authExt].flatMap((r) => r.invocations.map((x) => String(x.outcome))));
  data.authorizerInvocations = { bundled: { firstMs: inv(auth, 0), secondMs: inv(auth, 1) }, external: { firstMs: inv(authExt, 0), secondMs: inv(authExt, 1) }, outcomes: [...outcomes] };
  if (outcomes.size !== 1 || !outcomes.has('authorized=true')) throw new Error(`authorizer probe answered ${[...outcomes].join(', ')}`);

  const header = ['function', 'bundled KB', 'Δ KB', 'init ms', '× base', 'external KB', 'Δ KB', 'init ms', '× base', 'ext/bundled init'];
  const markdown = [
    `### Cold start: module init (fresh \`node\`${sourceMapsOn() ? ' --enable-source-maps' : ''}, dynamic import), median of ${options.rounds} interleaved rounds`,
    '',
    `Goal: a function adds ≤ ${SIZE_GOAL_KB} KB and ≤ ${Math.round((INIT_GOAL - 1) * 100)} % init to the baseline (the two SDK clients only, built the same way); " !" marks a miss. "× base" is the median of per-round ratios to the baseline of the same round and variant; "ext/bundled init" the same for external over bundled.`,
    '',
    markdownTable(header, rows),
    '',
    'What each function adds beyond the SDK clients (minified bytes in the bundled build, by package):',
    '',
    ...adds,
    '',
    ...(smLines.length
      ? [`Price of serverless.yml's NODE_OPTIONS=--enable-source-maps (bundled, linked source map): ${smLines.join('; ')}. Every number above includes it, as on Lambda.`, '']
      : []),
    `Authorizer invocations in the same probes (JWT_PUBLIC_KEY, ES256, no network): first ${fmt(inv(auth, 0), 2)} ms, second ${fmt(inv(auth, 1), 2)} ms (bundled); first ${fmt(inv(authExt, 0), 2)} ms, second ${fmt(inv(authExt, 1), 2)} ms (external).`,
  ].join('\n');
  return { section: 'coldstart', markdown, checks, data };
}
