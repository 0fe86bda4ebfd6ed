/**
 * Builds handlers exactly as `serverless package` does: the options come from serverless.yml's
 * `custom.esbuild` (serverless-esbuild passes them to esbuild minus its own keys) and the entries from
 * `functions:`, read with a minimal indentation parser (enough for those two blocks; block lists such as
 * `events:` are skipped).
 */
import { mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

export const ROOT = resolve(import.meta.dirname, '..');

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

interface Line {
  indent: number;
  text: string;
}

function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || text[i - 1] === ' ')) return text.slice(0, i).trimEnd();
  }
  return text.trimEnd();
}

/** Resolves `${env:NAME, 'default'}` the way the framework does (other variable kinds are left as they are). */
function resolveEnv(text: string): string {
  return text.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*(?:'([^']*)'|"([^"]*)"|([^}\s]*)))?\s*\}/g, (whole, name: string, single?: string, double?: string, bare?: string) => {
    const value = process.env[name];
    if (value !== undefined && value !== '') return value;
    const fallback = single ?? double ?? bare;
    return fallback ?? whole;
  });
}

function scalar(raw: string): Yaml {
  const text = resolveEnv(raw.trim());
  if (text === '' || text === '~' || text === 'null') return null;
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1).trim();
    return inner === '' ? [] : inner.split(',').map((part) => scalar(part));
  }
  return text;
}

function parseMap(lines: Line[], start: number, indent: number): [Record<string, Yaml>, number] {
  const out: Record<string, Yaml> = {};
  let i = start;
  while (i < lines.length) {
    const line = lines[i] as Line;
    if (line.indent < indent) break;
    if (line.indent > indent || line.text.startsWith('- ')) {
      i++; // a block list or deeper content we do not model
      continue;
    }
    const colon = line.text.indexOf(':');
    if (colon < 0) throw new Error(`serverless.yml: cannot read "${line.text}"`);
    const key = line.text.slice(0, colon).trim();
    const rest = line.text.slice(colon + 1);
    i++;
    if (rest.trim() !== '') {
      out[key] = scalar(rest);
    } else if (i < lines.length && (lines[i] as Line).indent > indent && !(lines[i] as Line).text.startsWith('- ')) {
      const [child, next] = parseMap(lines, i, (lines[i] as Line).indent);
      out[key] = child;
      i = next;
    } else {
      out[key] = null;
    }
  }
  return [out, i];
}

/** The parts of serverless.yml the benchmarks need: `functions` (name -> handler) and `custom.esbuild`. */
export function readServerlessYml(path = join(ROOT, 'serverless.yml')): { functions: Record<string, string>; esbuild: Record<string, Yaml> } {
  const lines: Line[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const text = stripComment(raw);
    if (text.trim() === '') continue;
    lines.push({ indent: text.length - text.trimStart().length, text: text.trim() });
  }
  const [doc] = parseMap(lines, 0, 0);
  const functions: Record<string, string> = {};
  for (const [name, spec] of Object.entries((doc.functions ?? {}) as Record<string, Yaml>)) {
    const handler = (spec as Record<string, Yaml> | null)?.handler;
    if (typeof handler === 'string') functions[name] = handler;
  }
  const esbuild = ((doc.custom as Record<string, Yaml> | undefined)?.esbuild ?? {}) as Record<string, Yaml>;
  if (Object.keys(functions).length === 0) throw new Error('serverless.yml: no functions found');
  return { functions, esbuild };
}

/** provider.environment.NODE_OPTIONS of serverless.yml ('' when it sets none): how Lambda starts node. */
export function lambdaNodeOptions(path = join(ROOT, 'serverless.yml')): string {
  const match = /^ {4}NODE_OPTIONS:\s*(.+)$/m.exec(readFileSync(path, 'utf8'));
  return match ? match[1]!.trim().replace(/^['"]|['"]$/g, '') : '';
}

/** serverless-esbuild's own keys, which it strips before calling esbuild (node_modules/serverless-esbuild/dist/bundle.js). */
const PLUGIN_KEYS = new Set([
  'concurrency', 'zipConcurrency', 'exclude', 'nativeZip', 'packager', 'packagePath', 'watch', 'keepOutputDirectory',
  'packagerOptions', 'installExtraArgs', 'outputFileExtension', 'outputBuildFolder', 'outputWorkFolder', 'nodeExternals',
  'skipBuild', 'skipRebuild', 'skipBuildExcludeFns', 'stripEntryResolveExtensions', 'disposeContext',
]);

/** esbuild options equivalent to what serverless-esbuild derives from `custom.esbuild`. */
export function esbuildOptionsFromYml(esbuild: Record<string, Yaml>): BuildOptions {
  const options: Record<string, unknown> = { bundle: true, target: 'node18', platform: 'node' }; // plugin defaults
  for (const [key, value] of Object.entries(esbuild)) if (!PLUGIN_KEYS.has(key)) options[key] = value;
  const unresolved = JSON.stringify(options).match(/\$\{[^}]*\}/);
  if (unresolved) throw new Error(`serverless.yml custom.esbuild: cannot resolve ${unresolved[0]} here`);
  const exclude = Array.isArray(esbuild.exclude) ? (esbuild.exclude as string[]) : ['aws-sdk'];
  options.external = [...((options.external as string[] | undefined) ?? []), ...(exclude.includes('*') ? [] : exclude)];
  const ext = typeof esbuild.outputFileExtension === 'string' ? esbuild.outputFileExtension : '.js';
  if (!/^\.[cm]?js$/.test(ext)) throw new Error(`serverless.yml custom.esbuild.outputFileExtension: unexpected ${ext}`);
  if (ext !== '.js') options.outExtension = { '.js': ext };
  return options as BuildOptions;
}

export interface BuiltBundle {
  /** Function name (or 'baseline'). */
  name: string;
  variant: 'bundled' | 'external';
  file: string;
  bytes: number;
  /** Raw-deflate size: about what the bundle adds to the deployment zip. */
  zippedBytes: number;
  /** Bytes in the output per input group, for attributing size. */
  byPackage: Record<string, number>;
}

export interface BuildPlan {
  /** Where bundles are written; node_modules is symlinked next to them so `@aws-sdk/*` externals resolve. */
  dir: string;
  options: BuildOptions;
  functions: Record<string, string>;
}

export function planBuilds(dir?: string): BuildPlan {
  const { functions, esbuild } = readServerlessYml();
  const options = esbuildOptionsFromYml(esbuild);
  const out = dir ?? mkdtempSync(join(tmpdir(), 'wechatpay-bench-'));
  mkdirSync(out, { recursive: true });
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return { dir: out, options, functions };
}

/** The baseline: a module that only imports the two AWS SDK clients our handlers use (kept alive by an export). */
export const BASELINE_SOURCE = `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
export const clients = [DynamoDBClient, SecretsManagerClient];
`;

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (match) return match[1] as string;
  return 'ours';
}

export async function buildBundle(plan: BuildPlan, name: string, variant: 'bundled' | 'external'): Promise<BuiltBundle> {
  const handler = name === 'baseline' ? undefined : plan.functions[name];
  if (name !== 'baseline' && handler === undefined) throw new Error(`no function ${name} in serverless.yml`);
  const entry = handler === undefined ? undefined : join(ROOT, `${handler.slice(0, handler.lastIndexOf('.'))}.ts`);
  const outExt = (plan.options.outExtension as Record<string, string> | undefined)?.['.js'] ?? '.js';
  const file = join(plan.dir, `${name}.${variant}${outExt}`);
  const external = [...(plan.options.external ?? []), ...(variant === 'external' ? ['@aws-sdk/*'] : [])];
  const result = await build({
    ...plan.options,
    ...(entry ? { entryPoints: [entry] } : { stdin: { contents: BASELINE_SOURCE, resolveDir: ROOT, loader: 'ts', sourcefile: 'baseline.ts' } }),
    outfile: file,
    outExtension: {},
    external,
    absWorkingDir: ROOT,
    metafile: true,
    logLevel: 'error',
  });
  const bytes = statSync(file).size;
  const byPackage: Record<string, number> = {};
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, info] of Object.entries(output.inputs)) {
      const key = packageOf(input);
      byPackage[key] = (byPackage[key] ?? 0) + info.bytesInOutput;
    }
  }
  return { name, variant, file, bytes, zippedBytes: deflateRawSync(readFileSync(file), { level: 9 }).length, byPackage };
}
