/**
 * User actions — what a person does on the h5_url / redirect_url / mweb_url pages — resolved either from a
 * page token (the URL) or, for `POST /sandbox/act`, from a business id.
 */
import { actionFail, type ActionResult, type SandboxContext } from './context';
import { payContractOrder, terminatePapContract } from './products/contract-order';
import { declineContract, signContract, terminateByUser } from './products/credit-repayment';
import { payH5Order } from './products/h5';
import { keyOf, type ContractOrder, type H5Order, type PapContract, type RepaymentContract } from './state';

export const ACTIONS = ['pay', 'cancel', 'sign', 'decline', 'terminate'] as const;
export type SandboxAction = (typeof ACTIONS)[number];

export type Target =
  | { kind: 'h5'; order: H5Order; token?: string }
  | { kind: 'mweb'; order: ContractOrder; token?: string }
  | { kind: 'contractorder'; order: ContractOrder }
  | { kind: 'presign'; contract: RepaymentContract; token?: string }
  | { kind: 'papay'; contract: PapContract };

const notFound = (what: string): ActionResult => actionFail(404, 'NOT_FOUND', `${what}不存在`);
const expired = (): ActionResult => actionFail(410, 'EXPIRED', '链接已过期');

/** Resolves a page token (from h5_url `token`, mweb_url `token`, redirect_url `presign_token`). */
export function resolveToken(ctx: SandboxContext, token: string): Target | ActionResult {
  const ref = ctx.state.tokens.get(token);
  if (!ref) return notFound('链接');
  if (ref.kind === 'presign') {
    const contract = ctx.state.repaymentContracts.get(ref.key);
    return contract ? { kind: 'presign', contract, token } : notFound('预签约');
  }
  const order = ctx.state.orders.get(ref.key);
  if (!order) return notFound('订单');
  if (ref.kind === 'h5' && order.kind === 'h5') return { kind: 'h5', order, token };
  if (ref.kind === 'mweb' && order.kind === 'contractorder') return { kind: 'mweb', order, token };
  return notFound('订单');
}

/** Resolves a full page URL (any host: main or backup listener). */
export function resolveUrl(ctx: SandboxContext, url: string): Target | ActionResult {
  let parsed: URL;
  try {
    parsed = new URL(url, 'http://sandbox.invalid');
  } catch {
    return actionFail(400, 'BAD_REQUEST', 'url无法解析');
  }
  const param = parsed.pathname === '/credit-repayment/sign' ? 'presign_token' : 'token';
  if (!['/pay/h5', '/pay/mweb', '/credit-repayment/sign'].includes(parsed.pathname)) {
    return actionFail(400, 'BAD_REQUEST', 'url不是沙箱的h5_url、mweb_url或redirect_url');
  }
  const token = parsed.searchParams.get(param);
  if (!token) return actionFail(400, 'BAD_REQUEST', `url缺少${param}`);
  return resolveToken(ctx, token);
}

function findByMerchant<T extends { mchid: string }>(map: Map<string, T>, id: string, mchid?: string): T | ActionResult {
  if (mchid !== undefined) return map.get(keyOf(mchid, id)) ?? notFound('记录');
  const hits = [...map.entries()].filter(([k]) => k.endsWith(`:${id}`)).map(([, v]) => v);
  if (hits.length === 0) return notFound('记录');
  if (hits.length > 1) return actionFail(400, 'AMBIGUOUS', '多个商户存在该单号，请同时传入mchid');
  return hits[0] as T;
}

export interface ActInput {
  url?: string;
  out_trade_no?: string;
  out_contract_code?: string;
  contract_code?: string;
  mchid?: string;
}

/** Resolves the body of `POST /sandbox/act`. */
export function resolveActInput(ctx: SandboxContext, input: ActInput): Target | ActionResult {
  if (input.url !== undefined) return resolveUrl(ctx, input.url);
  if (input.out_trade_no !== undefined) {
    const order = findByMerchant(ctx.state.orders, input.out_trade_no, input.mchid);
    if ('ok' in order) return order;
    return order.kind === 'h5' ? { kind: 'h5', order } : { kind: 'contractorder', order };
  }
  if (input.out_contract_code !== undefined) {
    const contract = findByMerchant(ctx.state.repaymentContracts, input.out_contract_code, input.mchid);
    return 'ok' in contract ? contract : { kind: 'presign', contract };
  }
  if (input.contract_code !== undefined) {
    const contract = findByMerchant(ctx.state.papContracts, input.contract_code, input.mchid);
    return 'ok' in contract ? contract : { kind: 'papay', contract };
  }
  return actionFail(400, 'BAD_REQUEST', '需要url、out_trade_no、out_contract_code或contract_code之一');
}

export function isTarget(x: Target | ActionResult): x is Target {
  return 'kind' in x;
}

const badAction = (action: string, kind: string): ActionResult =>
  actionFail(400, 'BAD_ACTION', `操作${action}不适用于${kind}`);

/** Performs an action. Token-bound targets (from a URL) also require the token to be current. */
export function perform(ctx: SandboxContext, target: Target, action: SandboxAction): ActionResult {
  const now = ctx.clock.now();
  switch (target.kind) {
    case 'h5': {
      if (action !== 'pay' && action !== 'cancel') return badAction(action, 'H5订单');
      if (target.token !== undefined && (target.order.token !== target.token || now > target.order.token_expires_ms)) {
        return expired();
      }
      if (action === 'cancel') return { ok: true, status: 200, code: 'OK', message: '已取消支付' };
      return payH5Order(ctx, target.order);
    }
    case 'mweb':
    case 'contractorder': {
      const order = target.order;
      if (action === 'terminate') {
        const contract = ctx.state.papContracts.get(keyOf(order.mchid, order.contract_code));
        return contract ? terminatePapContract(ctx, contract, 2) : notFound('协议');
      }
      if (action !== 'pay' && action !== 'cancel') return badAction(action, '支付中签约订单');
      if (target.kind === 'mweb' && target.token !== undefined) {
        if (order.token !== target.token || now > (order.token_expires_ms ?? 0)) return expired();
      }
      if (action === 'cancel') return { ok: true, status: 200, code: 'OK', message: '已取消支付' };
      return payContractOrder(ctx, order);
    }
    case 'presign': {
      const c = target.contract;
      if (action === 'terminate') return terminateByUser(ctx, c);
      if (action !== 'sign' && action !== 'decline') return badAction(action, '信贷还款预签约');
      if (target.token !== undefined && c.token !== target.token) return expired();
      return action === 'sign' ? signContract(ctx, c) : declineContract(ctx, c);
    }
    case 'papay':
      if (action !== 'terminate') return badAction(action, '委托代扣协议');
      return terminatePapContract(ctx, target.contract, 2);
  }
}
