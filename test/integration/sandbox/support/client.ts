/** Minimal HTTP clients for the sandbox tests (node fetch + the test signer). */
import { authorization, type AuthOptions, type MerchantKeys, v2Sign, v2Xml } from './signer';
import { parseXml } from './verify';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface V3Answer extends HttpAnswer {
  json: Record<string, unknown> | undefined;
}

export interface V3Options {
  method?: 'GET' | 'POST';
  path: string;
  /** Object (serialised once) or an exact string body. */
  body?: unknown;
  /** Extra headers; `undefined` removes a default one. */
  headers?: Record<string, string | undefined>;
  auth?: AuthOptions;
  /** Use this Authorization header verbatim. */
  rawAuthorization?: string;
  signal?: AbortSignal;
}

function headersOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

export async function v3(baseUrl: string, keys: MerchantKeys, opts: V3Options): Promise<V3Answer> {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const body = opts.body === undefined ? '' : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string | undefined> = {
    Accept: 'application/json',
    'User-Agent': 'sandbox-test/1.0',
    ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}),
    Authorization: opts.rawAuthorization ?? authorization(keys, method, opts.path, body, opts.auth),
    ...opts.headers,
  };
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) clean[k] = v;
  const res = await fetch(`${baseUrl}${opts.path}`, {
    method,
    headers: clean,
    ...(method === 'POST' ? { body } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: headersOf(res), text, json };
}

export interface V2Answer extends HttpAnswer {
  fields: Record<string, string>;
}

export async function postXml(baseUrl: string, path: string, xml: string): Promise<V2Answer> {
  const res = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body: xml });
  const text = await res.text();
  return { status: res.status, headers: headersOf(res), text, fields: parseXml(text) };
}

/** Signs (unless `sign` is already present) and posts a contractorder. */
export function contractOrder(
  baseUrl: string,
  fields: Record<string, string>,
  apiV2Key: string,
  type: 'MD5' | 'HMAC-SHA256' = 'MD5',
): Promise<V2Answer> {
  const signed = { ...fields };
  if (type === 'HMAC-SHA256') signed['sign_type'] = 'HMAC-SHA256';
  if (signed['sign'] === undefined) signed['sign'] = v2Sign(signed, apiV2Key, type);
  return postXml(baseUrl, '/pay/contractorder', v2Xml(signed));
}

/** Signs (unless `sign` is already present) and posts an APIv2 orderquery. */
export function orderQuery(
  baseUrl: string,
  fields: Record<string, string>,
  apiV2Key: string,
  type: 'MD5' | 'HMAC-SHA256' = 'MD5',
): Promise<V2Answer> {
  const signed: Record<string, string> = { nonce_str: 'q'.repeat(16), ...fields };
  if (type === 'HMAC-SHA256') signed['sign_type'] = 'HMAC-SHA256';
  if (signed['sign'] === undefined) signed['sign'] = v2Sign(signed, apiV2Key, type);
  return postXml(baseUrl, '/pay/orderquery', v2Xml(signed));
}

export async function sandboxJson(baseUrl: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as unknown };
}
