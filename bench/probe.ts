/**
 * Runs bench/probe.mjs in a fresh `node` process, as a Lambda container would load a bundle: plain node, no tsx,
 * serverless.yml's NODE_OPTIONS (provider.environment), a minimal environment.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { lambdaNodeOptions, ROOT } from './build';

export interface ProbeResult {
  importMs: number;
  invocations: { ms: number; outcome: string | number }[];
}

export interface ProbeInvoke {
  export?: string;
  functionName?: string;
  events: unknown[];
}

const PROBE = join(ROOT, 'bench', 'probe.mjs');

export function runProbe(file: string, options: { env?: Record<string, string>; invoke?: ProbeInvoke } = {}): Promise<ProbeResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    NODE_OPTIONS: lambdaNodeOptions(),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...options.env,
  };
  if (options.invoke) env.BENCH_PROBE_INVOKE = JSON.stringify(options.invoke);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROBE, file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString('utf8')).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@BENCH '));
      if (code !== 0 || !line) {
        reject(new Error(`probe of ${file} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
        return;
      }
      resolve(JSON.parse(line.slice('@@BENCH '.length)) as ProbeResult);
    });
  });
}
