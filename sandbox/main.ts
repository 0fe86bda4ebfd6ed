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

async function main(): Promise<void> {
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
