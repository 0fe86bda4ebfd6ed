/** A local notification receiver (the merchant's notify endpoint) with a scripted responder. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
  at: number;
}

export interface Reply {
  status: number;
  body?: string;
  contentType?: string;
}

export type Responder = (req: Received, index: number) => Reply;

export const V2_SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

function flat(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export class Receiver {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  /** Default responder: 204 for JSON, v2 success XML for XML bodies. */
  static async start(responder?: Responder): Promise<Receiver> {
    let self: Receiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { path: req.url ?? '/', headers: flat(req.headers), body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        const me = self as Receiver;
        const index = me.received.length;
        me.received.push(r);
        const reply = responder
          ? responder(r, index)
          : r.body.startsWith('<xml>')
            ? { status: 200, body: V2_SUCCESS, contentType: 'text/xml' }
            : { status: 204 };
        res.writeHead(reply.status, { 'Content-Type': reply.contentType ?? 'application/json' });
        res.end(reply.body ?? '');
        const ws = me.waiters;
        me.waiters = [];
        ws.forEach((w) => w());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    self = new Receiver(server, `http://127.0.0.1:${port}`);
    return self;
  }

  url(path = '/notify'): string {
    return `${this.origin}${path}`;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Waits until `count` requests (optionally on `path`) have arrived. */
  async waitFor(count: number, path?: string, timeoutMs = 10_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = path ? this.on(path) : this.received;
      if (list.length >= count) return list;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver: expected ${count} requests${path ? ` on ${path}` : ''}, got ${list.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
