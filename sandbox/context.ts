/** What the endpoint, page and action modules share. */
import type { Clock } from './clock';
import type { SandboxConfig, SandboxMerchant } from './config';
import type { Faults } from './faults';
import type { SandboxLogger } from './log';
import type { Notifier } from './notifier';
import type { SandboxState } from './state';

export interface SandboxContext {
  config: SandboxConfig;
  state: SandboxState;
  clock: Clock;
  notifier: Notifier;
  faults: Faults;
  log: SandboxLogger;
  /** Multiplies real-time delays (notification re-sends, refund settlement). */
  timeScale: number;
}

/** A successful APIv3 answer (errors are thrown as ApiError). */
export interface V3Result {
  status: number;
  body?: Record<string, unknown>;
}

/** Outcome of a user action (page click or `POST /sandbox/act`). */
export interface ActionResult {
  ok: boolean;
  /** HTTP status for `/sandbox/act` and the result page. */
  status: number;
  /** `OK`, or why not: `NOT_FOUND`, `EXPIRED`, `ORDERPAID`, `ORDER_CLOSED`, `INVALID_STATE`, `BAD_ACTION`… */
  code: string;
  message: string;
  target?: Record<string, unknown>;
}

export const actionOk = (message: string, target?: Record<string, unknown>): ActionResult => ({
  ok: true,
  status: 200,
  code: 'OK',
  message,
  ...(target ? { target } : {}),
});

export const actionFail = (status: number, code: string, message: string): ActionResult => ({
  ok: false,
  status,
  code,
  message,
});

export function merchantById(ctx: SandboxContext, mchid: string): SandboxMerchant | undefined {
  return ctx.config.merchants.find((m) => m.mchid === mchid);
}
