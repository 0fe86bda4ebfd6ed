import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/**
 * A startup failure whose message is the whole story: scripts print it as one line, without a stack.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Finds an executable on PATH (like `which`), or undefined. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

let setprivPath: string | null | undefined;

/**
 * Spawns a child that dies with us even if we are SIGKILLed: on Linux the command runs under
 * `setpriv --pdeathsig SIGKILL` (util-linux; exec, so the pid is the command's own) when available.
 * Elsewhere it is a plain spawn and the caller's exit/signal handlers are the only guard.
 */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  if (setprivPath === undefined) {
    setprivPath = process.platform === 'linux' ? (findExecutable('setpriv') ?? null) : null;
  }
  if (setprivPath) return spawn(setprivPath, ['--pdeathsig', 'SIGKILL', '--', command, ...args], options);
  return spawn(command, [...args], options);
}

/**
 * Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited.
 */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    timer.unref();
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Kills `child` (SIGKILL) when this process exits; returns the function that removes the guard. */
export function killOnExit(child: ChildProcess): () => void {
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', onExit);
  return () => process.off('exit', onExit);
}

/** A TCP port that was free a moment ago (the OS picked it), on 127.0.0.1. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/** Whether nothing listens on `port` (checked by binding it on every interface, then releasing it). */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    return await tryBind(port, undefined); // '::' (dual stack) where IPv6 exists
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL') return tryBind(port, '0.0.0.0');
    throw error;
  }
}

function tryBind(port: number, host: string | undefined): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws `port <n> is in use; set <ENV>` when the port is taken. */
export async function assertPortFree(port: number, envName: string): Promise<void> {
  if (!(await isPortFree(port))) throw new StartupError(`port ${port} is in use; set ${envName}`);
}

/** Parses a port from the environment, or the default; a clear error when it is not a port. */
export function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new StartupError(`${name}=${raw} is not a TCP port (1-65535)`);
  }
  return port;
}
