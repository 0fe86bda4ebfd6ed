/**
 * HTTP plumbing: two listeners (main and backup domain) over one state, request routing to the APIv3
 * pipeline, `/pay/contractorder` and `/pay/orderquery`, the user pages and `/sandbox/*`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { handleControl, type ControlHost } from './control';
import type { SandboxContext } from './context';
import { ApiError, systemError } from './errors';
import { requestId } from './ids';
import { PAGE_PATHS, renderPage, submitPage } from './page-routes';
import { handleContractOrder, handleOrderQuery } from './products/contract-order';
import { handleCloseOrder, handleRefundQuery, handleV2Refund, type ClientCertificate } from './products/refund';
import { describeClientCertificate } from './tls';
import { handleDeleteContract, handlePapOrderQuery, handlePapPayApply, handleQueryContract } from './products/papay';
import { wechatpaySignatureHeaders } from './signer';
import { runV3 } from './v3';
import { authenticate } from './auth';
import { billFile } from './products/bill';

const MAX_BODY_BYTES = 1024 * 1024;

type ListenerName = 'main' | 'backup' | 'tls';

/** APIv2 XML endpoints; `/secapi/…` ones are served on the mutual-TLS listener only. */
const V2_PATHS = [
  '/pay/contractorder',
  '/pay/orderquery',
  '/pay/refundquery',
  '/pay/closeorder',
  '/secapi/pay/refund',
  '/papay/querycontract',
  '/papay/deletecontract',
  '/pay/pappayapply',
  '/pay/paporderquery',
];

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The verified client certificate of a mutual-TLS request (the handshake already checked it against the CA). */
function clientCertificate(req: IncomingMessage): ClientCertificate | undefined {
  const peer = (req.socket as TLSSocket).getPeerCertificate?.();
  if (!peer?.raw) return undefined;
  return describeClientCertificate(peer.raw);
}

export class SandboxServer implements ControlHost {
  private readonly main: Server;
  private readonly backup: Server;
  /** HTTPS with a required client certificate (config.tls), for `/secapi/…`; serves every other route too. */
  private readonly tls: Server | undefined;
  private mainPort = 0;
  private backupPort = 0;
  private tlsPort = 0;
  private readonly hanging = new Set<NodeJS.Timeout>();
  private closed = false;
  private mainDown = false;

  constructor(
    readonly ctx: SandboxContext,
    private readonly host: string,
  ) {
    this.main = createServer((req, res) => void this.handle(req, res, 'main'));
    this.backup = createServer((req, res) => void this.handle(req, res, 'backup'));
    const tls = ctx.config.tls;
    this.tls = tls
      ? createHttpsServer(
          { cert: tls.serverCertPem, key: tls.serverKeyPem, ca: tls.caCertPem, requestCert: true, rejectUnauthorized: true },
          (req, res) => void this.handle(req, res, 'tls'),
        )
      : undefined;
    for (const s of [this.main, this.backup, ...(this.tls ? [this.tls] : [])]) {
      s.keepAliveTimeout = 5_000;
      s.headersTimeout = 10_000;
    }
  }

  get url(): string {
    return `http://${urlHost(this.host)}:${this.mainPort}`;
  }

  get backupUrl(): string {
    return `http://${urlHost(this.host)}:${this.backupPort}`;
  }

  /** The mutual-TLS origin (`https://…`), when config.tls is set. */
  get tlsUrl(): string | undefined {
    return this.tls ? `https://${urlHost(this.host)}:${this.tlsPort}` : undefined;
  }

  async listen(port: number, backupPort: number, tlsPort = 0): Promise<void> {
    this.mainPort = await this.listenOne(this.main, port);
    this.backupPort = await this.listenOne(this.backup, backupPort);
    if (this.tls) this.tlsPort = await this.listenOne(this.tls, tlsPort);
  }

  private listenOne(server: Server, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(port, this.host, () => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  private closeOne(server: Server): Promise<void> {
    return new Promise((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /**
   * Fault switch: stop the main listener (new connections are refused, idle keep-alive ones dropped, busy
   * ones closed right after their current answer) or listen again on the same port. Not awaited on the
   * close side: the request that flips the switch may itself be on the main listener.
   */
  async setMainDown(down: boolean): Promise<void> {
    if (this.closed) return;
    if (down) {
      if (!this.main.listening) return;
      this.mainDown = true;
      this.main.close();
      this.main.closeIdleConnections();
      this.ctx.log('fault.main_down', { port: this.mainPort });
    } else {
      this.mainDown = false;
      if (!this.main.listening) await this.listenOne(this.main, this.mainPort);
      this.ctx.log('fault.main_restored', { port: this.mainPort });
    }
  }

  info(): Record<string, unknown> {
    return {
      url: this.url,
      backupUrl: this.backupUrl,
      ...(this.tlsUrl ? { tlsUrl: this.tlsUrl } : {}),
      mainDown: this.mainDown,
      wechatpayPublicKeyId: this.ctx.config.wechatpayKey.id,
      wechatpayPublicKeyPem: this.ctx.config.wechatpayKey.publicKeyPem,
      merchants: this.ctx.config.merchants.map((m) => ({
        mchid: m.mchid,
        kind: m.kind,
        appids: m.appids,
        planIds: m.planIds ?? [],
        serialNo: m.serialNo,
      })),
    };
  }

  async reset(): Promise<void> {
    this.ctx.notifier.cancelAll(true);
    this.ctx.state.clear();
    this.ctx.clock.reset();
    await this.ctx.faults.reset();
    this.ctx.log('sandbox.reset');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ctx.notifier.cancelAll(false);
    for (const t of this.hanging) clearTimeout(t);
    this.hanging.clear();
    for (const t of this.ctx.state.timers) clearTimeout(t);
    this.ctx.state.timers.clear();
    await Promise.all([this.closeOne(this.main), this.closeOne(this.backup), ...(this.tls ? [this.closeOne(this.tls)] : [])]);
  }

  private baseUrl(listener: ListenerName): string {
    return listener === 'main' ? this.url : listener === 'tls' ? (this.tlsUrl ?? this.url) : this.backupUrl;
  }

  /** Hold the request without answering ("timeout" fault), then drop the connection. */
  private hang(res: ServerResponse): void {
    const timer = setTimeout(() => {
      this.hanging.delete(timer);
      res.socket?.destroy();
    }, this.ctx.faults.timeoutHangMs);
    this.hanging.add(timer);
    res.on('close', () => {
      clearTimeout(timer);
      this.hanging.delete(timer);
    });
  }

  private sendSignedJson(res: ServerResponse, path: string, status: number, body?: Record<string, unknown>): void {
    const bytes = body === undefined || status === 204 ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8');
    const probe = this.ctx.faults.takeSignTest(path);
    const headers: Record<string, string> = {
      ...wechatpaySignatureHeaders(this.ctx.config.wechatpayKey, bytes, this.ctx.clock.real(), probe),
      'Request-ID': requestId(),
      'Server': 'WechatPay-Sandbox',
    };
    if (bytes.length > 0) headers['Content-Type'] = 'application/json; charset=utf-8';
    headers['Content-Length'] = String(bytes.length);
    res.writeHead(status, headers);
    res.end(bytes);
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string): void {
    const bytes = Buffer.from(body, 'utf8');
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(bytes.length), 'Cache-Control': 'no-store' });
    res.end(bytes);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, listener: ListenerName): Promise<void> {
    if (listener === 'main' && this.mainDown) {
      // a keep-alive connection that was busy when the main listener went down: answer, then hang up
      res.shouldKeepAlive = false;
      res.on('finish', () => req.socket.destroy());
    }
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const qIndex = url.indexOf('?');
    const path = qIndex === -1 ? url : url.slice(0, qIndex);
    const query = new URLSearchParams(qIndex === -1 ? '' : url.slice(qIndex + 1));
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (!res.headersSent && err instanceof BodyTooLarge) this.send(res, 413, 'text/plain', 'payload too large');
      return;
    }
    try {
      if (path === '/v3/billdownload/file' && method === 'GET') {
        // A signed request like any v3 call; the answer is the file itself, not signed (WeChat's rule for downloads).
        const merchant = authenticate({ method, url, authorization: req.headers['authorization'], body: raw }, this.ctx.config, this.ctx.clock.real());
        const file = billFile(this.ctx, merchant, query.get('token') ?? '');
        res.writeHead(file.status, { 'Content-Type': file.contentType, 'Content-Length': file.body.length });
        res.end(file.body);
        return;
      }
      if (path.startsWith('/v3/')) {
        const outcome = runV3(this.ctx, { method, url, headers: req.headers, body: raw, baseUrl: this.baseUrl(listener) });
        if (outcome.kind === 'hang') this.hang(res);
        else this.sendSignedJson(res, path, outcome.status, outcome.body);
        return;
      }
      if (V2_PATHS.includes(path)) {
        if (method !== 'POST') {
          this.send(res, 405, 'text/plain', 'method not allowed');
          return;
        }
        const fault = this.ctx.faults.takeApiFault(path);
        if (fault === 'timeout-before') {
          this.hang(res);
          return;
        }
        const systemError = fault === 'system-error';
        const answer =
          path === '/pay/orderquery'
            ? handleOrderQuery(this.ctx, raw, systemError)
            : path === '/pay/refundquery'
              ? handleRefundQuery(this.ctx, raw, systemError)
              : path === '/pay/closeorder'
                ? handleCloseOrder(this.ctx, raw, systemError)
                : path === '/secapi/pay/refund'
                  ? handleV2Refund(this.ctx, raw, listener === 'tls' ? clientCertificate(req) : undefined, systemError)
                  : path === '/papay/querycontract'
                    ? handleQueryContract(this.ctx, raw, systemError)
                    : path === '/papay/deletecontract'
                      ? handleDeleteContract(this.ctx, raw, systemError)
                      : path === '/pay/pappayapply'
                        ? handlePapPayApply(this.ctx, raw, systemError)
                        : path === '/pay/paporderquery'
                          ? handlePapOrderQuery(this.ctx, raw, systemError)
                          : handleContractOrder(this.ctx, raw, this.baseUrl(listener), systemError);
        if (fault === 'timeout-after') this.hang(res);
        else this.send(res, answer.status, 'text/xml; charset=utf-8', answer.xml);
        return;
      }
      if ((PAGE_PATHS as readonly string[]).includes(path)) {
        const answer =
          method === 'POST'
            ? submitPage(this.ctx, path, new URLSearchParams(raw.toString('utf8')))
            : renderPage(this.ctx, path, query);
        this.send(res, answer.status, 'text/html; charset=utf-8', answer.html);
        return;
      }
      if (path === '/sandbox' || path.startsWith('/sandbox/')) {
        const answer = await handleControl(this, method, path, query, raw);
        this.send(res, answer.status, 'application/json; charset=utf-8', JSON.stringify(answer.body));
        return;
      }
      this.send(res, 404, 'text/plain; charset=utf-8', 'not found');
    } catch (err) {
      this.ctx.log('sandbox.internal_error', { path, error: (err as Error).message });
      if (res.headersSent) return;
      if (path.startsWith('/v3/')) {
        const e = err instanceof ApiError ? err : systemError();
        this.sendSignedJson(res, path, e.status, e.toBody());
      } else {
        this.send(res, 500, 'text/plain', 'sandbox internal error');
      }
    }
  }
}
