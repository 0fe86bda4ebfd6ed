/**
 * The APIv3 pipeline: fault switches, route, Accept / Content-Type, Authorization, JSON body rules,
 * the endpoint, and a signed answer (2xx and errors alike, public-key mode).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { authenticate } from './auth';
import type { SandboxMerchant } from './config';
import type { SandboxContext, V3Result } from './context';
import { ApiError, invalidRequest, paramError, systemError } from './errors';
import { closeOrder, createH5Order, queryByOutTradeNo, queryByTransactionId } from './products/h5';
import { presignH5, queryContract, queryDeductOrder, terminateByMerchant } from './products/credit-repayment';
import { parseJsonBody, type JsonObject } from './validate/json';
import { createV3Refund, queryV3Refund } from './products/refund';
import { preDeductionNotice } from './products/papay';
import { tradeBill } from './products/bill';
import { createDeductOrder, createScheduleRecords, queryScheduleRecord } from './products/repayments';

export interface V3Call {
  ctx: SandboxContext;
  merchant: SandboxMerchant;
  params: string[];
  query: URLSearchParams;
  body: JsonObject;
  headers: IncomingHttpHeaders;
  baseUrl: string;
}

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  run: (call: V3Call) => V3Result;
}

const p0 = (c: V3Call): string => c.params[0] ?? '';

const ROUTES: Route[] = [
  { method: 'POST', pattern: /^\/v3\/pay\/transactions\/h5$/, run: (c) => createH5Order(c.ctx, c.merchant, c.body, c.baseUrl) },
  {
    method: 'GET',
    pattern: /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/,
    run: (c) => queryByOutTradeNo(c.ctx, c.merchant, p0(c), c.query),
  },
  {
    method: 'GET',
    pattern: /^\/v3\/pay\/transactions\/id\/([^/]+)$/,
    run: (c) => queryByTransactionId(c.ctx, c.merchant, p0(c), c.query),
  },
  {
    method: 'POST',
    pattern: /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/,
    run: (c) => closeOrder(c.ctx, c.merchant, p0(c), c.body),
  },
  { method: 'GET', pattern: /^\/v3\/bill\/tradebill$/, run: (c) => tradeBill(c.ctx, c.merchant, c.query, c.baseUrl) },
  { method: 'POST', pattern: /^\/v3\/papay\/contracts\/([^/]+)\/notify$/, run: (c) => preDeductionNotice(c.ctx, c.merchant, p0(c), c.body) },
  { method: 'POST', pattern: /^\/v3\/refund\/domestic\/refunds$/, run: (c) => createV3Refund(c.ctx, c.merchant, c.body) },
  { method: 'GET', pattern: /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/, run: (c) => queryV3Refund(c.ctx, c.merchant, p0(c)) },
  {
    method: 'POST',
    pattern: /^\/v3\/credit-repayment\/partner\/contracts\/h5-presign$/,
    run: (c) => {
      const serial = c.headers['wechatpay-serial'];
      return presignH5(c.ctx, c.merchant, c.body, Array.isArray(serial) ? serial[0] : serial, c.baseUrl);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v3\/credit-repayment\/partner\/contracts\/terminate$/,
    run: (c) => terminateByMerchant(c.ctx, c.merchant, c.body),
  },
  {
    method: 'GET',
    pattern: /^\/v3\/credit-repayment\/partner\/contracts\/([^/]+)$/,
    run: (c) => queryContract(c.ctx, c.merchant, p0(c)),
  },
  { method: 'POST', pattern: /^\/v3\/credit-repayment\/partner\/schedule-records\/batch-create$/, run: (c) => createScheduleRecords(c.ctx, c.merchant, c.body) },
  {
    method: 'GET',
    pattern: /^\/v3\/credit-repayment\/partner\/schedule-records\/([^/]+)$/,
    run: (c) => queryScheduleRecord(c.ctx, c.merchant, p0(c), c.query),
  },
  { method: 'POST', pattern: /^\/v3\/credit-repayment\/partner\/deduct-orders$/, run: (c) => createDeductOrder(c.ctx, c.merchant, c.body) },
  {
    method: 'GET',
    pattern: /^\/v3\/credit-repayment\/partner\/deduct-orders\/([^/]+)$/,
    run: (c) => queryDeductOrder(c.ctx, c.merchant, p0(c)),
  },
];

function mediaTypes(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((part) => (part.split(';')[0] ?? '').trim().toLowerCase())
    .filter((t) => t !== '');
}

export interface V3Request {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  baseUrl: string;
}

export type V3Outcome =
  | { kind: 'answer'; status: number; body?: Record<string, unknown> }
  | { kind: 'hang' };

/** Runs one APIv3 call; the caller signs and writes the answer (or hangs). */
export function runV3(ctx: SandboxContext, req: V3Request): V3Outcome {
  const qIndex = req.url.indexOf('?');
  const path = qIndex === -1 ? req.url : req.url.slice(0, qIndex);
  const query = new URLSearchParams(qIndex === -1 ? '' : req.url.slice(qIndex + 1));
  const fault = ctx.faults.takeApiFault(path);
  if (fault === 'timeout-before') return { kind: 'hang' };
  if (fault === 'system-error') {
    ctx.log('fault.system_error', { path });
    return { kind: 'answer', status: 500, body: systemError().toBody() };
  }
  let answer: V3Outcome;
  try {
    const result = dispatch(ctx, req, path, query);
    answer = { kind: 'answer', status: result.status, ...(result.body ? { body: result.body } : {}) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    ctx.log('v3.rejected', { method: req.method, path, status: err.status, code: err.code, message: err.message });
    answer = { kind: 'answer', status: err.status, body: err.toBody() };
  }
  if (fault === 'timeout-after') return { kind: 'hang' };
  return answer;
}

function dispatch(ctx: SandboxContext, req: V3Request, path: string, query: URLSearchParams): V3Result {
  const candidates = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m !== null);
  if (candidates.length === 0) throw new ApiError(404, 'NOT_FOUND', '请求的资源不存在');
  const hit = candidates.find((x) => x.r.method === req.method);
  if (!hit || !hit.m) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `不支持的请求方法${req.method}`);

  const accept = mediaTypes(req.headers['accept']);
  if (!accept.some((t) => t === 'application/json' || t === '*/*' || t === 'application/*')) {
    throw invalidRequest('Http头Accept的值应为application/json', { field: 'Accept', location: 'header' });
  }
  if (req.method === 'POST') {
    const ct = mediaTypes(req.headers['content-type']);
    if (ct.length !== 1 || ct[0] !== 'application/json') {
      throw invalidRequest('Http头Content-Type的值应为application/json', { field: 'Content-Type', location: 'header' });
    }
  }
  const authorization = req.headers['authorization'];
  const merchant = authenticate(
    { method: req.method, url: req.url, authorization, body: req.body },
    ctx.config,
    ctx.clock.real(),
  );
  const params: string[] = [];
  for (const raw of hit.m.slice(1)) {
    try {
      params.push(decodeURIComponent(raw ?? ''));
    } catch {
      throw paramError('path', raw, '路径参数编码错误', { location: 'path' });
    }
  }
  const body = req.method === 'POST' ? parseJsonBody(req.body) : {};
  ctx.log('v3.call', { method: req.method, path, mchid: merchant.mchid });
  return hit.r.run({ ctx, merchant, params, query, body, headers: req.headers, baseUrl: req.baseUrl });
}
