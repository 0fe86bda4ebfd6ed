import { Agent, request } from 'node:https';
import type { FetchLike } from './transport';

export interface ClientCertificate {
  /** apiclient_cert.pem */
  cert: string;
  /** apiclient_key.pem */
  key: string;
  /** Extra CA to trust for the server (offline: the sandbox's own CA). WeChat's hosts need none. */
  ca?: string;
}

/**
 * A `fetch` that presents the merchant's API certificate on the TLS connection, for the APIv2 calls WeChat only
 * takes over mutual TLS (`/secapi/pay/refund`). Node's global fetch cannot carry a client certificate without
 * undici's own Agent (a runtime dependency), so this speaks node:https and hands the Transport a standard
 * Response. One keep-alive agent per certificate: the handshake is the expensive part.
 */
export function mutualTlsFetch(certificate: ClientCertificate): FetchLike {
  const agent = new Agent({
    cert: certificate.cert,
    key: certificate.key,
    ...(certificate.ca ? { ca: certificate.ca } : {}),
    keepAlive: true,
    // Never fall back to an unauthenticated server: the default, stated so nobody "fixes" it.
    rejectUnauthorized: true,
  });
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      if (url.protocol !== 'https:') {
        reject(new TypeError(`mutual TLS needs an https:// URL, got ${url.protocol}`));
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      const req = request(url, { method: init.method ?? 'GET', headers, agent, signal: init.signal ?? undefined }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
          }
          const status = res.statusCode ?? 0;
          // The Response constructor refuses a body on these statuses.
          const bodyless = status === 204 || status === 205 || status === 304;
          resolve(new Response(bodyless ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
        });
      });
      req.on('error', reject);
      const body = init.body;
      if (body === undefined || body === null) req.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
      else reject(new TypeError('mutual TLS requests take a string or byte body'));
    });
}
