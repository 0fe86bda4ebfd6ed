import {
  MalformedResponseError,
  ResponseVerificationError,
  V2SignatureError,
  WechatPayApiError,
  WechatPayV2ReturnError,
  XmlError,
} from '../errors';
import { createNonce } from '../nonce';
import { type V2Params, type V2ParamsLike, type V2SignType, signV2, verifyV2 } from '../v2/sign';
import { DEFAULT_MAX_XML_BYTES, buildXml, parseXml } from '../v2/xml';
import { type AttemptEvent, type BackoffOptions, type FetchLike, type Sleep, Transport } from './transport';
import { defaultUserAgent } from './user-agent';

export interface WechatPayV2ClientOptions {
  mchid: string;
  /** Filled in as `appid` when a call does not set one. */
  appid?: string;
  apiV2Key: string;
  /** `[main, backup?]`. */
  baseUrls: readonly string[];
  signType?: V2SignType;
  timeoutMs?: number;
  maxAttempts?: number;
  backoff?: BackoffOptions;
  userAgent?: string;
  fetch?: FetchLike;
  sleep?: Sleep;
  random?: () => number;
  maxResponseBytes?: number;
  onAttempt?: (event: AttemptEvent) => void;
}

export interface V2Response {
  status: number;
  /** Flat response fields. `result_code` / `err_code` are the caller's business. */
  data: Record<string, string>;
  rawBody: string;
  attempts: number;
  baseUrl: string;
}

/** APIv2 XML client: signs with the APIv2 key, checks `return_code`, the response sign and `mch_id`. */
export class WechatPayV2Client {
  private readonly mchid: string;
  private readonly appid: string | undefined;
  private readonly apiV2Key: string;
  private readonly signType: V2SignType;
  private readonly transport: Transport;
  private readonly userAgent: string;
  private readonly maxResponseBytes: number;

  constructor(options: WechatPayV2ClientOptions) {
    this.mchid = options.mchid;
    this.appid = options.appid;
    this.apiV2Key = options.apiV2Key;
    this.signType = options.signType ?? 'MD5';
    this.transport = new Transport(options);
    this.userAgent = options.userAgent ?? defaultUserAgent();
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_XML_BYTES;
  }

  /** The exact parameters that will be sent: ours filled in, nonce and sign added. */
  signedParams<P extends V2ParamsLike<P>>(input: P, options: { nonce?: boolean } = {}): Record<string, string | number | boolean> {
    const params = input as V2Params;
    const mchId = params['mch_id'];
    if (mchId !== undefined && mchId !== null && String(mchId) !== this.mchid) {
      throw new TypeError(`mch_id ${String(mchId)} is not this client's merchant ${this.mchid}`);
    }
    const declared = params['sign_type'];
    if (declared !== undefined && declared !== null && declared !== '' && declared !== this.signType) {
      throw new TypeError(`sign_type ${String(declared)} conflicts with this client's ${this.signType}`);
    }
    const signed: Record<string, string | number | boolean> = {};
    if (this.appid !== undefined) signed['appid'] = this.appid;
    signed['mch_id'] = this.mchid;
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && name !== 'sign' && name !== 'sign_type') signed[name] = value;
    }
    // Some papay calls (querycontract, deletecontract) document no nonce_str at all: those say nonce: false.
    if (options.nonce !== false && (signed['nonce_str'] === undefined || signed['nonce_str'] === '')) signed['nonce_str'] = createNonce();
    // MD5 is the default and must then stay implicit; HMAC has to be declared (and is signed).
    if (this.signType === 'HMAC-SHA256') signed['sign_type'] = 'HMAC-SHA256';
    signed['sign'] = signV2(signed, this.apiV2Key, this.signType);
    return signed;
  }

  /** `budgetMs` bounds the whole call, retries and backoff included (see `Transport.send`). */
  async post<P extends V2ParamsLike<P>>(
    path: string,
    params: P,
    options: { signal?: AbortSignal; budgetMs?: number; nonce?: boolean } = {},
  ): Promise<V2Response> {
    if (!path.startsWith('/')) throw new TypeError(`path must start with '/': ${path}`);
    // Built once: identical bytes (and nonce) on every attempt, like the original-parameters retry
    // WeChat asks for.
    const body = Buffer.from(buildXml(this.signedParams(params, { nonce: options.nonce !== false })), 'utf8');
    const headers = {
      Accept: 'application/xml, text/xml',
      'Content-Type': 'text/xml; charset=utf-8',
      'User-Agent': this.userAgent,
    };
    const response = await this.transport.send(path, () => ({ method: 'POST', headers, body }), options.signal, options.budgetMs);
    const { status, attempts, baseUrl } = response;
    const trace = <E extends { attempts?: number; baseUrl?: string }>(error: E): E => {
      error.attempts = attempts;
      error.baseUrl = baseUrl;
      return error;
    };
    const rawBody = response.body.toString('utf8');

    if (status < 200 || status >= 300) {
      const excerpt = rawBody.length > 200 ? `${rawBody.slice(0, 200)}…` : rawBody;
      throw trace(new WechatPayApiError({ status, code: `HTTP_${status}`, message: `HTTP ${status}${excerpt === '' ? '' : `: ${excerpt}`}` }));
    }

    let data: Record<string, string>;
    try {
      data = parseXml(response.body, { maxBytes: this.maxResponseBytes });
    } catch (error) {
      if (error instanceof XmlError) {
        throw trace(new MalformedResponseError(`response is not APIv2 XML: ${error.message}`, status, undefined, { cause: error }));
      }
      throw error;
    }

    // FAIL replies are communication-level refusals and may carry no sign at all.
    if (data['return_code'] !== 'SUCCESS') {
      throw trace(new WechatPayV2ReturnError(data['return_code'] ?? '(missing)', data['return_msg'] ?? ''));
    }
    try {
      // Signed with the type we asked in: an answer signed otherwise is not one we accept (no downgrade to MD5).
      verifyV2(data, this.apiV2Key, { expectedSignType: this.signType });
      const responseMchId = data['mch_id'];
      if (responseMchId !== undefined && responseMchId !== this.mchid) {
        throw new V2SignatureError('mch_id_mismatch', `response mch_id ${responseMchId} is not ${this.mchid}`);
      }
    } catch (error) {
      if (error instanceof V2SignatureError) throw trace(new ResponseVerificationError(error, status));
      throw error;
    }
    return { status, data, rawBody, attempts, baseUrl };
  }
}
