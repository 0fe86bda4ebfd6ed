import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * Serves Lambda HTTP handlers on a real loopback port, shaped as API Gateway HTTP API (payload 2.0) events, so
 * the sandbox can deliver real notifications to in-process handlers. Routes look like `POST /h5-orders/{id}`.
 */
export type LambdaHttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface ServedHandlers {
  url: string;
  close(): Promise<void>;
  /** Every request served, in order (route, status): for asserting what WeChat saw. */
  calls: Array<{ route: string; status: number }>;
}

interface CompiledRoute {
  key: string;
  method: string;
  pattern: RegExp;
  names: string[];
  handler: LambdaHttpHandler;
}

function compile(key: string, handler: LambdaHttpHandler): CompiledRoute {
  const [method, path] = key.split(' ') as [string, string];
  const names: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { key, method, pattern, names, handler };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function toEvent(
  route: Pick<CompiledRoute, 'key'>,
  request: { method: string; url: string; headers: Record<string, string> },
  body: Buffer,
  pathParameters: Record<string, string> | undefined,
  base64 = false,
): APIGatewayProxyEventV2 {
  const url = new URL(request.url, 'http://localhost');
  return {
    version: '2.0',
    routeKey: route.key,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: request.headers,
    ...(pathParameters ? { pathParameters } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: { method: request.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: request.headers['user-agent'] ?? '' },
      requestId: `req-${Math.random().toString(36).slice(2)}`,
      routeKey: route.key,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: base64 ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: base64,
  };
}

export async function serveHandlers(routes: Record<string, LambdaHttpHandler>, options: { base64Bodies?: boolean } = {}): Promise<ServedHandlers> {
  const compiled = Object.entries(routes).map(([key, handler]) => compile(key, handler));
  const calls: ServedHandlers['calls'] = [];
  const server: Server = createServer(async (request, response) => {
    const body = await readBody(request);
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    for (const route of compiled) {
      const match = request.method === route.method ? route.pattern.exec(path) : null;
      if (!match) continue;
      const pathParameters = route.names.length
        ? Object.fromEntries(route.names.map((name, i) => [name, match[i + 1]!]))
        : undefined;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
      const event = toEvent(route, { method: request.method ?? 'GET', url: request.url ?? '/', headers }, body, pathParameters, options.base64Bodies);
      const result = await route.handler(event);
      const status = result.statusCode ?? 200;
      calls.push({ route: route.key, status });
      response.writeHead(status, result.headers as Record<string, string> | undefined);
      response.end(result.isBase64Encoded && result.body ? Buffer.from(result.body, 'base64') : (result.body ?? ''));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
