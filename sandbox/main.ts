/**
 * Standalone sandbox: `npm run sandbox`.
 *   SANDBOX_CONFIG       config file (default .local/sandbox.json)
 *   SANDBOX_PORT         main listener (default 4010)
 *   SANDBOX_BACKUP_PORT  backup-domain listener (default 4011)
 *   SANDBOX_HOST         bind address (default 127.0.0.1)
 *   SANDBOX_TIME_SCALE   notification re-send delay multiplier (default 1)
 */
import { resolve } from 'node:path';
import { loadSandboxConfig } from './config';
import { startSandbox } from './index';
import { jsonLineLogger } from './log';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number`);
  return n;
}

/**
 * `npm run sandbox -- trigger <event> key=value…` and `npm run sandbox -- resend <notification id>` talk to a running
 * sandbox (SANDBOX_URL, default http://127.0.0.1:4010): make an event happen, or send a notification again.
 */
async function command(args: string[]): Promise<void> {
  const base = process.env['SANDBOX_URL'] ?? 'http://127.0.0.1:4010';
  const [name, first, ...rest] = args;
  const body =
    name === 'trigger'
      ? { event: first, ...Object.fromEntries(rest.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) }
      : { id: first };
  const response = await fetch(`${base}/sandbox/${name}`, { method: 'POST', body: JSON.stringify(body) });
  console.log(JSON.stringify(await response.json(), null, 2));
  if (!response.ok) process.exitCode = 1;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'trigger' || args[0] === 'resend') return command(args);
  const configPath = resolve(process.env['SANDBOX_CONFIG'] ?? '.local/sandbox.json');
  const config = await loadSandboxConfig(configPath);
  const timeScale = Number(process.env['SANDBOX_TIME_SCALE'] ?? '1');
  if (!(timeScale > 0)) throw new Error('SANDBOX_TIME_SCALE must be a positive number');
  const sandbox = await startSandbox({
    config,
    port: intEnv('SANDBOX_PORT', 4010),
    backupPort: intEnv('SANDBOX_BACKUP_PORT', 4011),
    host: process.env['SANDBOX_HOST'] ?? '127.0.0.1',
    timeScale,
    log: jsonLineLogger,
  });
  process.stdout.write(
    `WeChat Pay sandbox on ${sandbox.url} (backup ${sandbox.backupUrl}), config ${configPath}, public key ${config.wechatpayKey.id}\n`,
  );
  const stop = (): void => {
    void sandbox.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
