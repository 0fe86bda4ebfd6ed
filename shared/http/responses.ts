import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export type HttpResult = APIGatewayProxyStructuredResultV2;

export interface FieldProblem {
  /** Dotted path of the offending field, e.g. `scene_info.payer_client_ip`. */
  field: string;
  message: string;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * RFC 9457 problem details. `code` is a stable machine-readable token (ours, or WeChat's when it rejected the call),
 * `errors` names each bad field so a caller can fix a request without reading prose.
 */
export function problem(
  statusCode: number,
  code: string,
  detail: string,
  extra: { errors?: FieldProblem[]; headers?: Record<string, string>; [key: string]: unknown } = {},
): HttpResult {
  const { headers = {}, ...rest } = extra;
  return {
    statusCode,
    headers: { 'content-type': 'application/problem+json; charset=utf-8', ...headers },
    body: JSON.stringify({ type: 'about:blank', status: statusCode, code, detail, ...rest }),
  };
}
