import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from 'aws-lambda';
import { bindInvocation } from './logger';
import { publishMetrics } from './metrics';

/** When this invocation started and when Lambda will kill it (epoch ms, real time). */
interface InvocationFrame {
  started: number;
  deadline: number;
}

const frames = new AsyncLocalStorage<InvocationFrame>();

/** Every handler's frame: logs carry the invocation's context, metrics are flushed once at the end. */
export async function withInvocation<T>(context: Context | undefined, run: () => Promise<T>): Promise<T> {
  bindInvocation(context);
  const started = Date.now();
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
  const frame = { started, deadline: remaining === undefined ? Number.POSITIVE_INFINITY : started + remaining };
  try {
    return await frames.run(frame, run);
  } finally {
    publishMetrics();
  }
}

/** Milliseconds this invocation has left (infinite outside Lambda): what batch work sizes itself by. */
export function remainingMs(now = Date.now()): number {
  const frame = frames.getStore();
  return frame ? frame.deadline - now : Number.POSITIVE_INFINITY;
}

/** Kept free after a WeChat call: storing its result and answering our own caller. */
export const ANSWER_MARGIN_MS = 1500;
/** A GET asks WeChat only to refresh what it already knows; past this it answers the stored state. */
export const CONFIRM_BUDGET_MS = 2500;
/** WeChat waits 5 s for a notification's acknowledgement; we answer well inside it. */
export const NOTIFY_ACK_BUDGET_MS = 4000;

/**
 * Why a WeChat call is made, which decides how long it may take:
 * - `call`: the request's own business (create, presign): whatever the invocation has left;
 * - `confirm`: a GET's fallback query: short, the stored state is a good answer;
 * - `notify`: inside a notification request: what is left of the acknowledgement budget.
 */
export type WechatCallPurpose = 'call' | 'confirm' | 'notify';

/**
 * The budget (ms) for a WeChat call made now, derived from the invocation's remaining time and the purpose.
 * `undefined` only for a `call` outside any Lambda invocation (scripts): the client's own limits apply then.
 */
export function wechatBudgetMs(purpose: WechatCallPurpose, now = Date.now()): number | undefined {
  const frame = frames.getStore();
  const left = frame ? frame.deadline - now - ANSWER_MARGIN_MS : Number.POSITIVE_INFINITY;
  const cap =
    purpose === 'confirm'
      ? CONFIRM_BUDGET_MS
      : purpose === 'notify'
        ? NOTIFY_ACK_BUDGET_MS - ANSWER_MARGIN_MS - (frame ? now - frame.started : 0)
        : Number.POSITIVE_INFINITY;
  const budget = Math.min(left, cap);
  return Number.isFinite(budget) ? Math.max(0, budget) : undefined;
}
