/**
 * The pages a person uses: plain server-rendered HTML with forms (no scripts), for headless Chromium too.
 * GET renders; the buttons POST (`application/x-www-form-urlencoded`: token + action) to the same path.
 */
import type { ActionResult } from './context';
import type { ContractOrder, H5Order, RepaymentContract } from './state';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export const yuan = (fen: number | string): string => {
  const n = typeof fen === 'string' ? Number(fen) : fen;
  return `¥${(n / 100).toFixed(2)}`;
};

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} - 微信支付沙箱</title>
<style>
body{font-family:system-ui,-apple-system,"PingFang SC",sans-serif;background:#ededed;margin:0;padding:24px}
main{max-width:420px;margin:0 auto;background:#fff;border-radius:8px;padding:24px}
h1{font-size:20px;margin:0 0 16px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:8px 16px;margin:0 0 24px}
dt{color:#888}dd{margin:0}
.amount{font-size:32px;font-weight:600;text-align:center;margin:16px 0}
.actions{display:flex;gap:12px}
button{flex:1;padding:12px;font-size:16px;border-radius:6px;border:0;cursor:pointer}
button.primary{background:#07c160;color:#fff}
button.secondary{background:#f2f2f2;color:#333}
.note{color:#888;font-size:12px;margin-top:16px}
</style>
</head>
<body><main>${body}</main></body>
</html>`;
}

function rows(items: Array<[string, string | undefined]>): string {
  return `<dl>${items
    .filter((r): r is [string, string] => r[1] !== undefined)
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd data-field="${esc(k)}">${esc(v)}</dd>`)
    .join('')}</dl>`;
}

function form(path: string, tokenName: string, token: string, buttons: Array<[string, string, 'primary' | 'secondary']>): string {
  return `<form method="post" action="${esc(path)}" class="actions">
<input type="hidden" name="${esc(tokenName)}" value="${esc(token)}">
${buttons
  .map(([action, label, cls]) => `<button type="submit" id="${action}" name="action" value="${action}" class="${cls}">${esc(label)}</button>`)
  .join('\n')}
</form>`;
}

export function h5Page(order: H5Order, token: string): string {
  return layout(
    '微信支付',
    `<h1>微信支付</h1>
<div class="amount" id="amount">${yuan(order.total)}</div>
${rows([
  ['商品', order.description],
  ['商户订单号', order.out_trade_no],
  ['商户号', order.mchid],
])}
${form('/pay/h5', 'token', token, [
  ['pay', '确认支付 Pay', 'primary'],
  ['cancel', '取消 Cancel', 'secondary'],
])}
<p class="note">沙箱页面：点击“确认支付”即视为用户支付成功。</p>`,
  );
}

export function mwebPage(order: ContractOrder, token: string): string {
  return layout(
    '支付并签约',
    `<h1>支付并开通自动扣费</h1>
<div class="amount" id="amount">${yuan(order.total_fee)}</div>
${rows([
  ['商品', order.body],
  ['商户订单号', order.out_trade_no],
  ['扣费模板', order.plan_id],
  ['签约账户', order.contract_display_account],
  ['签约协议号', order.contract_code],
])}
${form('/pay/mweb', 'token', token, [
  ['pay', '支付并签约 Pay', 'primary'],
  ['cancel', '取消 Cancel', 'secondary'],
])}
<p class="note">沙箱页面：支付成功的同时完成代扣协议签约。</p>`,
  );
}

export function signPage(c: RepaymentContract, token: string): string {
  const first = c.trade_info
    ? `${yuan(c.trade_info.deduct_amount)}${c.trade_info.description ? `（${c.trade_info.description}）` : ''}`
    : undefined;
  return layout(
    '开通自动还款',
    `<h1>开通信贷自动还款</h1>
${rows([
  ['用户', c.display_name],
  ['还款模板', c.plan_id],
  ['每次还款上限', yuan(c.repayment_amount_limit)],
  ['每月还款日', c.repayment_day === undefined ? undefined : `${c.repayment_day}日`],
  ['首次还款', first],
  ['协议号', c.out_contract_code],
])}
${form('/credit-repayment/sign', 'presign_token', token, [
  ['sign', '同意并签约 Sign', 'primary'],
  ['decline', '拒绝 Decline', 'secondary'],
])}
<p class="note">沙箱页面：签约前微信支付会核验实名信息（沙箱视为一致）。</p>`,
  );
}

export function resultPage(result: ActionResult): string {
  const title = result.ok ? '操作完成' : '操作失败';
  return layout(
    title,
    `<h1 id="result" data-code="${esc(result.code)}">${esc(result.message)}</h1>
<p class="note">${esc(result.ok ? '可以关闭此页面，返回商户页面。' : `错误码：${result.code}`)}</p>`,
  );
}

export function expiredPage(): string {
  return layout('链接已过期', `<h1 id="expired">链接已过期</h1><p class="note">请返回商户页面重新发起。</p>`);
}

export function notFoundPage(): string {
  return layout('链接无效', `<h1 id="not-found">链接无效</h1><p class="note">找不到对应的订单或签约。</p>`);
}
