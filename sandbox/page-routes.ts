/** HTTP glue for the user pages: GET renders, POST (form) performs the clicked action. */
import { ACTIONS, isTarget, perform, resolveToken, type SandboxAction, type Target } from './actions';
import { actionFail, type ActionResult, type SandboxContext } from './context';
import { expiredPage, h5Page, mwebPage, notFoundPage, resultPage, signPage } from './pages';

export const PAGE_PATHS = ['/pay/h5', '/pay/mweb', '/credit-repayment/sign'] as const;

export interface PageAnswer {
  status: number;
  html: string;
}

const TOKEN_PARAM: Record<string, string> = {
  '/pay/h5': 'token',
  '/pay/mweb': 'token',
  '/credit-repayment/sign': 'presign_token',
};

const KIND_FOR_PATH: Record<string, Target['kind']> = {
  '/pay/h5': 'h5',
  '/pay/mweb': 'mweb',
  '/credit-repayment/sign': 'presign',
};

function fromResult(result: ActionResult): PageAnswer {
  if (result.code === 'EXPIRED') return { status: 410, html: expiredPage() };
  if (result.code === 'NOT_FOUND') return { status: 404, html: notFoundPage() };
  return { status: result.status, html: resultPage(result) };
}

function lookup(ctx: SandboxContext, path: string, token: string | null): Target | ActionResult {
  if (!token) return actionFail(404, 'NOT_FOUND', '链接无效');
  const target = resolveToken(ctx, token);
  if (isTarget(target) && target.kind !== KIND_FOR_PATH[path]) return actionFail(404, 'NOT_FOUND', '链接无效');
  return target;
}

export function renderPage(ctx: SandboxContext, path: string, query: URLSearchParams): PageAnswer {
  const token = query.get(TOKEN_PARAM[path] ?? 'token');
  const target = lookup(ctx, path, token);
  if (!isTarget(target)) return fromResult(target);
  const now = ctx.clock.now();
  switch (target.kind) {
    case 'h5': {
      const o = target.order;
      if (o.trade_state === 'SUCCESS') return fromResult(actionFail(409, 'ORDERPAID', '该订单已支付'));
      if (o.token !== token || now > o.token_expires_ms) return fromResult(actionFail(410, 'EXPIRED', '链接已过期'));
      if (o.trade_state === 'CLOSED' || now > o.time_expire_ms) return fromResult(actionFail(409, 'ORDER_CLOSED', '订单已关闭'));
      return { status: 200, html: h5Page(o, o.token) };
    }
    case 'mweb': {
      const o = target.order;
      if (o.trade_state === 'SUCCESS') return fromResult(actionFail(409, 'ORDERPAID', '该订单已支付'));
      if (o.token !== token || now > (o.token_expires_ms ?? 0)) return fromResult(actionFail(410, 'EXPIRED', '链接已过期'));
      if (o.trade_state === 'CLOSED') return fromResult(actionFail(409, 'ORDER_CLOSED', '订单已关闭'));
      return { status: 200, html: mwebPage(o, o.token ?? '') };
    }
    case 'presign': {
      const c = target.contract;
      if (c.status === 'EFFECTIVE' || c.status === 'TERMINATED') return fromResult(actionFail(409, 'INVALID_STATE', '该协议已签约'));
      if (c.status === 'DECLINED') return fromResult(actionFail(409, 'INVALID_STATE', '用户已拒绝签约'));
      if (now > c.token_expires_ms) return fromResult(actionFail(410, 'EXPIRED', '预签约码已过期'));
      return { status: 200, html: signPage(c, c.token) };
    }
    default:
      return fromResult(actionFail(404, 'NOT_FOUND', '链接无效'));
  }
}

export function submitPage(ctx: SandboxContext, path: string, form: URLSearchParams): PageAnswer {
  const token = form.get(TOKEN_PARAM[path] ?? 'token');
  const action = form.get('action') ?? '';
  if (!(ACTIONS as readonly string[]).includes(action)) {
    return fromResult(actionFail(400, 'BAD_ACTION', '未知操作'));
  }
  const target = lookup(ctx, path, token);
  if (!isTarget(target)) return fromResult(target);
  return fromResult(perform(ctx, target, action as SandboxAction));
}
