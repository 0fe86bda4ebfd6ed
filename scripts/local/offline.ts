import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { killOnExit, spawnTied, StartupError, stopChild } from './process';

export interface OfflineOptions {
  /** The folder of serverless.yml. */
  root: string;
  /** Default `local`. */
  stage?: string;
  httpPort: number;
  lambdaPort: number;
  /** The function environment (docs/contracts.md §2); added to this process's env. */
  env: Record<string, string>;
  /** Default 180 s (the first esbuild bundle of every function takes a while). */
  readyTimeoutMs?: number;
}

export interface Offline {
  url: string;
  child: ChildProcess;
  /** Everything printed so far (up to the last 20 kB), until `follow` is called. */
  output(): string;
  /** From now on, hand every chunk of output to `write` instead of buffering it. */
  follow(write: (chunk: Buffer) => void): void;
  stop(): Promise<void>;
}

/** Fails with a one-line reason when serverless.yml cannot start an API. */
export function checkServerlessYml(root: string): void {
  const file = join(root, 'serverless.yml');
  if (!existsSync(file)) throw new StartupError('serverless.yml is missing: the API cannot start');
  const text = readFileSync(file, 'utf8');
  if (!/^functions:[ \t]*\r?\n[ \t]+\S/m.test(text)) {
    throw new StartupError('serverless.yml has no functions: the API cannot start');
  }
  if (!/^\s*-\s*serverless-offline\s*$/m.test(text)) {
    throw new StartupError('serverless.yml does not list the serverless-offline plugin: the API cannot start');
  }
}

function serverlessBin(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('serverless/package.json')), 'bin', 'serverless.js');
  } catch {
    throw new StartupError('serverless (osls) is not installed: run npm install');
  }
}

/** The last meaningful lines of a child's output, for a one-line error. */
export function lastLines(output: string, count = 3): string {
  const lines = output
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^at |^npm warn|^Environment:|^Docs:|^Support:|^Bugs:/.test(line));
  return lines.length ? `: ${lines.slice(-count).join(' | ')}` : '';
}

/**
 * Runs `serverless offline start` (osls + serverless-offline + serverless-esbuild) as a child process and
 * resolves once it prints "Server ready". Routes are served without the stage prefix.
 */
export async function startOffline(options: OfflineOptions): Promise<Offline> {
  checkServerlessYml(options.root);
  const args = [
    serverlessBin(),
    'offline',
    'start',
    '--stage',
    options.stage ?? 'local',
    '--host',
    '127.0.0.1',
    '--httpPort',
    String(options.httpPort),
    '--lambdaPort',
    String(options.lambdaPort),
    '--noPrependStageInUrl',
  ];
  const child = spawnTied(process.execPath, args, {
    cwd: options.root,
    env: {
      ...process.env,
      ...options.env,
      API_PORT: String(options.httpPort),
      LAMBDA_PORT: String(options.lambdaPort),
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const removeGuard = killOnExit(child);
  const stop = async () => {
    removeGuard();
    await stopChild(child, 5_000);
  };

  let buffered = '';
  let writer: ((chunk: Buffer) => void) | undefined;
  const onChunk = (chunk: Buffer) => {
    if (writer) writer(chunk);
    else buffered = (buffered + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);

  const offline: Offline = {
    url: `http://127.0.0.1:${options.httpPort}`,
    child,
    output: () => buffered,
    follow(write) {
      writer = write;
    },
    stop,
  };

  const timeoutMs = options.readyTimeoutMs ?? 180_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new StartupError(`serverless-offline was not ready within ${timeoutMs / 1000} s${lastLines(buffered)}`));
      }, timeoutMs);
      const onData = () => {
        if (/Server ready:/.test(buffered)) {
          done();
          resolve();
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        done();
        reject(
          new StartupError(
            /EADDRINUSE/.test(buffered)
              ? `port ${options.httpPort} or ${options.lambdaPort} is in use; set API_PORT / LAMBDA_PORT`
              : `serverless-offline exited (${signal ?? `code ${code}`}) before it was ready${lastLines(buffered)}`,
          ),
        );
      };
      const done = () => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.off('exit', onExit);
      };
      // Registered after onChunk, so `buffered` already holds the chunk when onData looks.
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return offline;
}
