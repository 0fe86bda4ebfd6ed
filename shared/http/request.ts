import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The minimal slice of an HTTP API (payload 2.0) event our handlers read. */
export type HttpEvent = Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded' | 'headers'> &
  Partial<Pick<APIGatewayProxyEventV2, 'pathParameters' | 'requestContext' | 'queryStringParameters' | 'rawPath'>>;

/**
 * The body exactly as the client sent it. WeChat signatures cover these bytes, so nothing may parse and
 * re-serialise them first; API Gateway base64-encodes bodies it considers binary.
 */
export function rawBody(event: HttpEvent): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** Header lookup that ignores case: API Gateway lower-cases names, serverless-offline does not always. */
export function header(event: Pick<HttpEvent, 'headers'>, name: string): string | undefined {
  const headers = event.headers ?? {};
  const direct = headers[name] ?? headers[name.toLowerCase()];
  if (direct !== undefined) return direct;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

export function lowerCaseHeaders(event: Pick<HttpEvent, 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.headers ?? {})) if (value !== undefined) out[key.toLowerCase()] = value;
  return out;
}

export function pathParameter(event: HttpEvent, name: string): string | undefined {
  const value = event.pathParameters?.[name];
  return value === undefined ? undefined : decodeURIComponent(value);
}
