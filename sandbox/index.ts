/**
 * Our own WeChat Pay sandbox: checks requests as WeChat Pay does, answers signed (public-key mode),
 * serves the pages a person clicks, and delivers signed, encrypted notifications with retries.
 * See sandbox/README.md.
 */
import { Clock } from './clock';
import type { SandboxConfig } from './config';
import type { SandboxContext } from './context';
import { Faults } from './faults';
import { silentLogger, type SandboxLogger } from './log';
import { Notifier } from './notifier';
import { SandboxServer } from './server';
import { SandboxState } from './state';

export interface StartSandboxOptions {
  config: SandboxConfig;
  /** Main listener port; 0 picks a free one. */
  port?: number;
  /** Backup-domain listener port (same state); 0 picks a free one. */
  backupPort?: number;
  /** Mutual-TLS listener port (only with config.tls); 0 picks a free one. */
  tlsPort?: number;
  host?: string;
  /** Multiplies every notification re-send delay (e.g. 0.001 in tests). */
  timeScale?: number;
  log?: SandboxLogger;
  /** Wall clock override (tests). Business time can also be moved with `clock.advance()`. */
  now?: () => number;
}

export interface RunningSandbox {
  /** Main origin, e.g. http://127.0.0.1:4010 (the "api.mch.weixin.qq.com" of the sandbox). */
  url: string;
  /** Backup origin (the "api2.mch.weixin.qq.com"): same state, stays up when the main one is refused. */
  backupUrl: string;
  /** HTTPS origin requiring a merchant API certificate (`/secapi/…`), when the config has `tls`. */
  tlsUrl?: string;
  close(): Promise<void>;
  /** Clears state, notification log, time offset and faults (same as `POST /sandbox/reset`). */
  reset(): Promise<void>;
  faults: Faults;
  state: SandboxState;
  /** Delivery log: `list()`, `waitFor(pred, timeoutMs)`, `pending()`. */
  notifications: Notifier;
  clock: Clock;
  config: SandboxConfig;
}

export async function startSandbox(options: StartSandboxOptions): Promise<RunningSandbox> {
  const { config, port = 0, backupPort = 0, host = '127.0.0.1', timeScale = 1, log = silentLogger } = options;
  if (!(timeScale > 0)) throw new Error('timeScale must be > 0');
  const clock = new Clock(options.now);
  const state = new SandboxState();
  let server: SandboxServer | undefined;
  const faults = new Faults(async (down) => {
    if (server) await server.setMainDown(down);
  });
  const notifier = new Notifier(faults, timeScale, log);
  const ctx: SandboxContext = { config, state, clock, notifier, faults, log, timeScale };
  server = new SandboxServer(ctx, host);
  try {
    await server.listen(port, backupPort, options.tlsPort ?? 0);
  } catch (err) {
    await server.close();
    throw err;
  }
  const s = server;
  log('sandbox.started', { url: s.url, backupUrl: s.backupUrl, timeScale, merchants: config.merchants.length });
  return {
    url: s.url,
    backupUrl: s.backupUrl,
    ...(s.tlsUrl ? { tlsUrl: s.tlsUrl } : {}),
    close: () => s.close(),
    reset: () => s.reset(),
    faults,
    state,
    notifications: notifier,
    clock,
    config,
  };
}

export type { SandboxConfig, SandboxMerchant, SandboxWechatpayKey } from './config';
export { loadSandboxConfig, parseSandboxConfig, generateSandboxFixture } from './config';
export type { SandboxFixture, FixtureMerchant, MerchantSecret } from './fixture';
export type { DeliveryAttempt } from './notifier';
export { PAYMENT_SCHEDULE, CREDIT_REPAYMENT_SCHEDULE, V2_CONTRACT_SCHEDULE } from './notifier';
export type { FaultSettings } from './faults';
export type { SandboxLogger } from './log';
