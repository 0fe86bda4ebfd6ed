/**
 * APIv3 JSON body rules (WeChat's APIv3 basic rules): valid UTF-8, only 1–3-byte UTF-8 characters, a JSON object,
 * and no `null` anywhere.
 */
import { ApiError, paramError } from '../errors';

export type JsonObject = Record<string, unknown>;

const FOUR_BYTE = /[\u{10000}-\u{10FFFF}]/u;

function walk(value: unknown, path: string, visit: (value: unknown, path: string, key?: string) => void): void {
  visit(value, path);
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, `${path}[${i}]`, visit));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const child = path === '' ? k : `${path}.${k}`;
      visit(undefined, child, k);
      walk(v, child, visit);
    }
  }
}

/** Parses a raw APIv3 request body; throws 400 PARAM_ERROR naming the offending field. */
export function parseJsonBody(raw: Buffer): JsonObject {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new ApiError(400, 'PARAM_ERROR', '请求体不是有效的UTF-8编码', { location: 'body', issue: 'invalid utf-8' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'PARAM_ERROR', '请求体不是合法的JSON', { location: 'body', issue: 'invalid json' });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ApiError(400, 'PARAM_ERROR', '请求体应为JSON对象', { location: 'body', issue: 'not an object' });
  }
  walk(json, '', (value, path, key) => {
    if (key !== undefined && FOUR_BYTE.test(key)) {
      throw paramError(path, key, '含有不支持的字符（仅支持1至3字节的UTF-8字符）');
    }
    if (value === null) {
      throw paramError(path, null, '不允许为null，不需要的字段请不要传');
    }
    if (typeof value === 'string' && FOUR_BYTE.test(value)) {
      throw paramError(path, value, '含有不支持的字符（仅支持1至3字节的UTF-8字符，如emoji等4字节字符不支持）');
    }
  });
  return json as JsonObject;
}

/** Deterministic serialisation with sorted keys: "same parameters" regardless of key order or spacing. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
