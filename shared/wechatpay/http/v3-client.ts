import type { KeyObject } from 'node:crypto';
import {
  MalformedResponseError,
  ResponseVerificationError,
  SignatureVerificationError,
  WechatPayApiError,
  type WechatPayError,
} from '../errors';
import { buildVerifierKeys, preferredEncryptionKey, privateKeyFrom } from '../keys';
import { createNonce } from '../nonce';
import { canonicalUrl, formatAuthorization, rsaSha256Sign, signatureMessage } from '../v3/signer';
import { verifyWechatPaySignature } from '../v3/verifier';
import { type AttemptEvent, type BackoffOptions, type FetchLike, type Sleep, Transport } from './transport';
import { defaultUserAgent } from './user-agent';

export interface WechatPayV3ClientOptions {
  /** The calling merchant: the service provider for partner APIs, else the direct merchant. */
  mchid: string;
  /** Serial of the merchant API certificate. */
  serialNo: string;
  privateKey: string | KeyObject;
  /** WeChat Pay keys by serial / public-key id, parsed or as PEM text. */
  verifierKeys: ReadonlyMap<string, KeyObject> | Readonly<Record<string, string>>;
  /** `[main, backup?]`. */
  baseUrls: readonly string[];
  timeoutMs?: number;
  maxAttempts?: number;
  backoff?: BackoffOptions;
  userAgent?: string;
  fetch?: FetchLike;
  /** Clock in milliseconds since the epoch (request timestamps and the response window). */
  now?: () => number;
  sleep?: Sleep;
  random?: () => number;
  /**
   * Default `Wechatpay-Serial` request header. It names the key sensitive fields are encrypted to and,
   * during a certificate → public-key migration, selects the key WeChat signs the response with.
   * Defaults to the preferred verifier key (first `PUB_KEY_ID_…`, else first); `false` sends none.
   */
  wechatpaySerial?: string | false;
  toleranceSeconds?: number;
  onAttempt?: (event: AttemptEvent) => void;
}

export type QueryValue = string | number | boolean | undefined;

export interface V3Request {
  method: string;
  /** Path from the API root, e.g. `/v3/pay/transactions/h5`. */
  path: string;
  query?: Readonly<Record<string, QueryValue>>;
  /** Serialised once (objects with JSON.stringify); these bytes are signed and sent on every attempt. */
  body?: object | string;
  wechatpaySerial?: string;
  signal?: AbortSignal;
  /** Bounds the whole call, retries and backoff included (see `Transport.send`). */
  budgetMs?: number;
}

export interface V3Response<T> {
  status: number;
  /** Response headers, lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON, or undefined for an empty body (204). */
  data: T | undefined;
  rawBody: string;
  requestId?: string;
  /** How many attempts the call took, and which base URL answered. */
  attempts: number;
  baseUrl: string;
}

function queryString(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.append(name, String(value));
  }
  return params.toString();
}

function withTrace<E extends WechatPayError & { attempts?: number; baseUrl?: string }>(
  error: E,
  attempts: number,
  baseUrl: string,
): E {
  error.attempts = attempts;
  error.baseUrl = baseUrl;
  return error;
}

/** WeChat's error JSON `{code, message, detail}`; anything else (a proxy's HTML page) is tolerated. */
function apiError(status: number, rawBody: string, requestId: string | undefined): WechatPayApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { code?: unknown }).code === 'string') {
    const { code, message, detail } = parsed as { code: string; message?: unknown; detail?: unknown };
    return new WechatPayApiError({
      status,
      code,
      message: typeof message === 'string' ? message : '',
      detail,
      requestId,
    });
  }
  const excerpt = rawBody.length > 200 ? `${rawBody.slice(0, 200)}…` : rawBody;
  return new WechatPayApiError({
    status,
    code: `HTTP_${status}`,
    message: excerpt === '' ? `HTTP ${status}` : `HTTP ${status}: ${excerpt}`,
    requestId,
  });
}

/** APIv3 JSON client: signs requests, verifies 2xx responses, retries and fails over via `Transport`. */
export class WechatPayV3Client {
  private readonly mchid: string;
  private readonly serialNo: string;
  private readonly privateKey: KeyObject;
  private readonly verifierKeys: ReadonlyMap<string, KeyObject>;
  private readonly transport: Transport;
  private readonly userAgent: string;
  private readonly now: () => number;
  private readonly wechatpaySerial: string | undefined;
  private readonly toleranceSeconds: number | undefined;

  constructor(options: WechatPayV3ClientOptions) {
    this.mchid = options.mchid;
    this.serialNo = options.serialNo;
    this.privateKey = privateKeyFrom(options.privateKey);
    this.verifierKeys =
      options.verifierKeys instanceof Map
        ? (options.verifierKeys as ReadonlyMap<string, KeyObject>)
        : buildVerifierKeys(options.verifierKeys as Readonly<Record<string, string>>);
    this.transport = new Transport(options);
    this.userAgent = options.userAgent ?? defaultUserAgent();
    this.now = options.now ?? Date.now;
    this.wechatpaySerial =
      options.wechatpaySerial === false
        ? undefined
        : (options.wechatpaySerial ??
          (options.verifierKeys instanceof Map
            ? ([...options.verifierKeys.keys()].find((id) => id.startsWith('PUB_KEY_ID_')) ?? options.verifierKeys.keys().next().value)
            : preferredEncryptionKey(options.verifierKeys as Readonly<Record<string, string>>, this.now())?.id));
    this.toleranceSeconds = options.toleranceSeconds;
  }

  /**
   * Downloads a file WeChat handed out a URL for (a bill's `download_url`): a GET signed like any v3 call over the
   * URL's path and raw query, sent only to our own WeChat origins (never wherever a URL points), answered with bytes
   * WeChat does not sign: the caller checks them against the hash from the signed answer that named the URL.
   */
  async download(downloadUrl: string, options: { budgetMs?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
    const url = new URL(downloadUrl);
    if (!this.transport.baseUrls.some((base) => new URL(base).origin === url.origin)) {
      throw new TypeError(`download URL ${url.origin} is not a WeChat Pay origin this client calls`);
    }
    const pathAndQuery = `${url.pathname}${url.search}`;
    const response = await this.transport.send(
      pathAndQuery,
      (target) => {
        const timestamp = Math.floor(this.now() / 1000);
        const nonce = createNonce();
        const signature = rsaSha256Sign(signatureMessage('GET', canonicalUrl(target), timestamp, nonce, ''), this.privateKey);
        return {
          method: 'GET',
          headers: {
            Accept: '*/*',
            'User-Agent': this.userAgent,
            Authorization: formatAuthorization({ mchid: this.mchid, nonce, timestamp, serialNo: this.serialNo, signature }),
          },
          body: undefined,
        };
      },
      options.signal,
      options.budgetMs,
    );
    const requestId = response.headers.get('request-id') ?? undefined;
    if (response.status < 200 || response.status >= 300) {
      throw withTrace(apiError(response.status, response.body.toString('utf8'), requestId), response.attempts, response.baseUrl);
    }
    return response.body;
  }

  async request<T = unknown>(request: V3Request): Promise<V3Response<T>> {
    if (!request.path.startsWith('/')) throw new TypeError(`path must start with '/': ${request.path}`);
    const method = request.method.toUpperCase();
    const query = queryString(request.query);
    const pathAndQuery = query === '' ? request.path : `${request.path}${request.path.includes('?') ? '&' : '?'}${query}`;

    // Serialised exactly once: the signed text and the bytes on the wire can never drift apart,
    // and every retry resends the identical body.
    const bodyText = request.body === undefined ? '' : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
    const bodyBytes = bodyText === '' ? undefined : Buffer.from(bodyText, 'utf8');
    const wechatpaySerial = request.wechatpaySerial ?? this.wechatpaySerial;

    const response = await this.transport.send(
      pathAndQuery,
      (url) => {
        // Fresh timestamp and nonce per attempt: a retry is a new request as far as replay checks go.
        const timestamp = Math.floor(this.now() / 1000);
        const nonce = createNonce();
        const signature = rsaSha256Sign(signatureMessage(method, canonicalUrl(url), timestamp, nonce, bodyText), this.privateKey);
        const headers: Record<string, string> = {
          Accept: 'application/json',
          'Content-Type': 'application/json',
          'User-Agent': this.userAgent,
          Authorization: formatAuthorization({ mchid: this.mchid, nonce, timestamp, serialNo: this.serialNo, signature }),
        };
        if (wechatpaySerial !== undefined) headers['Wechatpay-Serial'] = wechatpaySerial;
        return { method, headers, body: bodyBytes };
      },
      request.signal,
      request.budgetMs,
    );

    const { status, attempts, baseUrl } = response;
    const requestId = response.headers.get('request-id') ?? undefined;
    const rawBody = response.body.toString('utf8');

    if (status < 200 || status >= 300) throw withTrace(apiError(status, rawBody, requestId), attempts, baseUrl);

    // Every 2xx is verified, 204 with its empty body included. A failure (a SIGNTEST probe among
    // them) leaves the outcome unknown: it is thrown, never returned as success.
    try {
      verifyWechatPaySignature({
        headers: response.headers,
        body: response.body,
        keys: this.verifierKeys,
        now: this.now,
        toleranceSeconds: this.toleranceSeconds,
      });
    } catch (error) {
      if (error instanceof SignatureVerificationError) {
        throw withTrace(new ResponseVerificationError(error, status, requestId), attempts, baseUrl);
      }
      throw error;
    }

    let data: T | undefined;
    if (rawBody !== '') {
      try {
        data = JSON.parse(rawBody) as T;
      } catch (cause) {
        throw withTrace(new MalformedResponseError('2xx response body is not JSON', status, requestId, { cause }), attempts, baseUrl);
      }
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const result: V3Response<T> = { status, headers, data, rawBody, attempts, baseUrl };
    if (requestId !== undefined) result.requestId = requestId;
    return result;
  }
}
