/**
 * `/sandbox/*`: the test and debugging API (no authentication; loopback use only).
 *   GET  /sandbox/health | /sandbox/info | /sandbox/notifications | /sandbox/orders | /sandbox/contracts
 *   GET  /sandbox/faults         POST /sandbox/faults  {…switches}
 *   GET  /sandbox/refunds
 *   POST /sandbox/act            {url | out_trade_no | out_contract_code | contract_code, mchid?, action}
 *                                {out_refund_no, mchid?, action: refund-success | refund-abnormal | refund-close}
 *                                {out_trade_no, mchid?, action: deduct-success | deduct-fail | deduct-bankerror | deduct-silent-fail}
 *                                {out_trade_no, mchid?, action: repay-success | repay-fail, amount?} (credit repayment)
 *   POST /sandbox/reset          GET|POST /sandbox/time {advance_seconds}
 *   POST /sandbox/trigger        {event: payment.succeeded | contract.signed | … , out_trade_no | out_refund_no | …}
 *   POST /sandbox/resend         {id}: an earlier notification (delivered or dropped) sent again
 */
import { ACTIONS, isTarget, perform, resolveActInput, type ActInput, type SandboxAction } from './actions';
import type { SandboxContext } from './context';
import { addBillDiscrepancy } from './products/bill';
import { FaultInputError } from './faults';
import { actOnRefund, REFUND_ACTIONS, settleDue, type RefundAction } from './products/refund';
import { actOnDeduction, DEDUCTION_ACTIONS, settleDueDeductions, type DeductionAction } from './products/papay';
import { actOnRepayment, REPAYMENT_ACTIONS, type RepaymentAction } from './products/repayments';

export interface ControlAnswer {
  status: number;
  body: unknown;
}

export interface ControlHost {
  ctx: SandboxContext;
  info(): Record<string, unknown>;
  reset(): Promise<void>;
}

const bad = (message: string): ControlAnswer => ({ status: 400, body: { code: 'BAD_REQUEST', message } });

function parseObject(raw: Buffer): Record<string, unknown> | undefined {
  if (raw.length === 0) return {};
  try {
    const v: unknown = JSON.parse(raw.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const optString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `POST /sandbox/trigger {event, …keys}`: the domain event a merchant wants to see → the act that causes it. */
const TRIGGERS: Record<string, string> = {
  'payment.succeeded': 'pay',
  'contract.signed': 'sign',
  'contract.terminated': 'terminate',
  'refund.succeeded': 'refund-success',
  'refund.abnormal': 'refund-abnormal',
  'refund.closed': 'refund-close',
  'deduction.succeeded': 'deduct-success',
  'deduction.failed': 'deduct-fail',
  'repayment.succeeded': 'repay-success',
  'repayment.failed': 'repay-fail',
};

export async function handleControl(host: ControlHost, method: string, path: string, query: URLSearchParams, raw: Buffer): Promise<ControlAnswer> {
  const { ctx } = host;
  const route = `${method} ${path}`;
  switch (route) {
    case 'GET /sandbox/health':
      return { status: 200, body: { ok: true } };
    case 'GET /sandbox/info':
      return { status: 200, body: host.info() };
    case 'GET /sandbox/notifications': {
      let list = ctx.notifier.list();
      const event = query.get('event');
      const id = query.get('id');
      if (event) list = list.filter((a) => a.event === event);
      if (id) list = list.filter((a) => a.id === id);
      return { status: 200, body: list };
    }
    case 'GET /sandbox/orders':
      return { status: 200, body: ctx.state.listOrders() };
    case 'GET /sandbox/contracts':
      return { status: 200, body: ctx.state.listContracts() };
    case 'GET /sandbox/refunds':
      return { status: 200, body: ctx.state.listRefunds() };
    case 'GET /sandbox/deductions':
      return { status: 200, body: ctx.state.listPapOrders() };
    case 'GET /sandbox/faults':
      return { status: 200, body: ctx.faults.snapshot() };
    case 'POST /sandbox/faults': {
      const body = parseObject(raw);
      if (!body) return bad('body must be a JSON object');
      try {
        return { status: 200, body: await ctx.faults.set(body) };
      } catch (err) {
        if (err instanceof FaultInputError) return bad(err.message);
        throw err;
      }
    }
    case 'POST /sandbox/reset':
      await host.reset();
      return { status: 200, body: { ok: true } };
    case 'GET /sandbox/time':
      return { status: 200, body: { now: new Date(ctx.clock.now()).toISOString(), offset_seconds: ctx.clock.offsetSeconds() } };
    case 'POST /sandbox/resend': {
      const body = parseObject(raw);
      const id = optString(body?.['id']);
      if (!id) return bad('id (a notification id from GET /sandbox/notifications) is required');
      return ctx.notifier.resend(id) ? { status: 200, body: { ok: true, id } } : { status: 404, body: { code: 'NOT_FOUND', message: `no notification ${id}` } };
    }
    case 'POST /sandbox/trigger': {
      // Stripe-CLI style: make an event happen for an existing order or contract (the act a person or WeChat would do).
      const body = parseObject(raw);
      const event = optString(body?.['event']);
      const action = event ? TRIGGERS[event] : undefined;
      if (!body || !action) return bad(`event must be one of ${Object.keys(TRIGGERS).join(', ')}`);
      const { event: _event, ...keys } = body;
      return handleControl(host, 'POST', '/sandbox/act', query, Buffer.from(JSON.stringify({ ...keys, action })));
    }
    case 'POST /sandbox/bill-discrepancy': {
      const body = parseObject(raw);
      if (!body) return bad('body must be a JSON object');
      return addBillDiscrepancy(ctx, body);
    }
    case 'POST /sandbox/time': {
      const body = parseObject(raw);
      const advance = body?.['advance_seconds'];
      if (typeof advance !== 'number' || !Number.isFinite(advance)) return bad('advance_seconds must be a number');
      ctx.clock.advance(advance);
      // Business time moved: refunds and deductions whose settlement time has come settle now.
      settleDue(ctx);
      settleDueDeductions(ctx);
      return { status: 200, body: { now: new Date(ctx.clock.now()).toISOString(), offset_seconds: ctx.clock.offsetSeconds() } };
    }
    case 'POST /sandbox/act': {
      const body = parseObject(raw);
      if (!body) return bad('body must be a JSON object');
      const action = body['action'];
      if (typeof action === 'string' && (REFUND_ACTIONS as readonly string[]).includes(action)) {
        const outRefundNo = optString(body['out_refund_no']);
        if (!outRefundNo) return bad('out_refund_no is required for refund actions');
        const result = actOnRefund(ctx, outRefundNo, optString(body['mchid']), action as RefundAction);
        ctx.log('sandbox.act', { action, ok: result.ok, code: result.code });
        return { status: result.status, body: result };
      }
      if (typeof action === 'string' && (DEDUCTION_ACTIONS as readonly string[]).includes(action)) {
        const outTradeNo = optString(body['out_trade_no']);
        if (!outTradeNo) return bad('out_trade_no is required for deduction actions');
        const result = actOnDeduction(ctx, outTradeNo, optString(body['mchid']), action as DeductionAction);
        ctx.log('sandbox.act', { action, ok: result.ok, code: result.code });
        return { status: result.status, body: result };
      }
      if (typeof action === 'string' && (REPAYMENT_ACTIONS as readonly string[]).includes(action)) {
        const outTradeNo = optString(body['out_trade_no']);
        if (!outTradeNo) return bad('out_trade_no is required for repayment actions');
        const result = actOnRepayment(ctx, outTradeNo, optString(body['mchid']), action as RepaymentAction, optString(body['amount']));
        ctx.log('sandbox.act', { action, ok: result.ok, code: result.code });
        return { status: result.status, body: result };
      }
      if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
        return bad(`action must be one of ${[...ACTIONS, ...REFUND_ACTIONS, ...DEDUCTION_ACTIONS, ...REPAYMENT_ACTIONS].join(', ')}`);
      }
      const input: ActInput = {};
      for (const k of ['url', 'out_trade_no', 'out_contract_code', 'contract_code', 'mchid'] as const) {
        const v = optString(body[k]);
        if (v !== undefined) input[k] = v;
      }
      const target = resolveActInput(ctx, input);
      const result = isTarget(target) ? perform(ctx, target, action as SandboxAction) : target;
      ctx.log('sandbox.act', { action, ok: result.ok, code: result.code });
      return { status: result.status, body: result };
    }
    default:
      return { status: 404, body: { code: 'NOT_FOUND', message: `no sandbox route ${route}` } };
  }
}
