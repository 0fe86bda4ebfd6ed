/**
 * Reads the service's environment once, at cold start, and fails fast with the name of the variable that is
 * missing or wrong: a misconfigured function should refuse to start, not half-work.
 */
export interface AppConfig {
  tableName: string;
  dynamoEndpoint?: string;
  wechatpayBaseUrls: string[];
  publicBaseUrl: string;
  directMerchantSecretId: string;
  serviceProviderSecretId: string;
  /** A NOTPAY order older than this is confirmed with WeChat's query API before a GET answers. */
  h5QueryAfterSeconds: number;
  wechatpayTimeoutMs: number;
  /**
   * Where the APIv2 calls that need mutual TLS go (`/secapi/…`): WeChat's own hosts unless set (the sandbox
   * serves them on a listener of its own), and a CA to trust for that listener (offline only).
   */
  wechatpayMtlsBaseUrls: string[];
  wechatpayTlsCaPem?: string;
  /** WeChat wants partial refunds of one order at least this far apart; refused by us before calling it. */
  refundMinIntervalSeconds: number;
  /** A PROCESSING refund older than this is confirmed with the refund query before a GET answers. */
  refundQueryAfterSeconds: number;
  /** Added to the business clock (local stack only; see `clockOffset`). */
  clockOffsetMs: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function origin(env: Env, name: string, fallback?: string): string {
  const value = env[name]?.trim() || fallback;
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`environment variable ${name} must be an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`${name} must be http(s)`);
  return value.replace(/\/+$/, '');
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * WeChat only delivers notifications to HTTPS URLs, and a plain-HTTP notify URL would expose them in transit:
 * plain HTTP is accepted only on loopback, i.e. offline with the sandbox.
 */
function notifyOrigin(env: Env): string {
  const value = origin(env, 'PUBLIC_BASE_URL');
  const url = new URL(value);
  if (url.protocol !== 'https:' && !LOOPBACK.has(url.hostname)) {
    throw new ConfigError('PUBLIC_BASE_URL must be https:// (plain http is allowed on loopback only)');
  }
  if (url.search || url.hash) {
    throw new ConfigError('PUBLIC_BASE_URL must not carry a query or fragment (WeChat refuses notify URLs with a query)');
  }
  return value;
}

function integer(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`environment variable ${name} must be a whole number`);
  return value;
}

export function loadConfig(env: Env = process.env): AppConfig {
  const main = origin(env, 'WECHATPAY_BASE_URL', 'https://api.mch.weixin.qq.com');
  const backup = env.WECHATPAY_BACKUP_BASE_URL?.trim()
    ? origin(env, 'WECHATPAY_BACKUP_BASE_URL')
    : main === 'https://api.mch.weixin.qq.com'
      ? 'https://api2.mch.weixin.qq.com'
      : undefined;
  const dynamoEndpoint = env.DYNAMODB_ENDPOINT?.trim() || undefined;
  return {
    tableName: required(env, 'TABLE_NAME'),
    ...(dynamoEndpoint ? { dynamoEndpoint } : {}),
    wechatpayBaseUrls: backup ? [main, backup] : [main],
    publicBaseUrl: notifyOrigin(env),
    directMerchantSecretId: required(env, 'DIRECT_MERCHANT_SECRET_ID'),
    serviceProviderSecretId: required(env, 'SERVICE_PROVIDER_SECRET_ID'),
    h5QueryAfterSeconds: integer(env, 'H5_QUERY_AFTER_SECONDS', 60),
    wechatpayTimeoutMs: integer(env, 'WECHATPAY_TIMEOUT_MS', 5000),
    wechatpayMtlsBaseUrls: env.WECHATPAY_MTLS_BASE_URL?.trim() ? [origin(env, 'WECHATPAY_MTLS_BASE_URL')] : backup ? [main, backup] : [main],
    ...(env.WECHATPAY_TLS_CA_PEM?.trim() ? { wechatpayTlsCaPem: env.WECHATPAY_TLS_CA_PEM } : {}),
    refundMinIntervalSeconds: integer(env, 'REFUND_MIN_INTERVAL_SECONDS', 60),
    refundQueryAfterSeconds: integer(env, 'REFUND_QUERY_AFTER_SECONDS', 60),
    clockOffsetMs: clockOffset(env) * 1000,
  };
}

/**
 * The local stack's business clock, moved like the sandbox's `/sandbox/time` (e.g. into papay's 07:00-22:00 deduction
 * window whatever the hour). Only where secrets come from a local file: a deployed function keeps real time.
 */
function clockOffset(env: Env): number {
  const raw = env.LOCAL_CLOCK_OFFSET_SECONDS?.trim();
  if (!raw || raw === '0') return 0;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new ConfigError('LOCAL_CLOCK_OFFSET_SECONDS must be a whole number of seconds');
  if (env.SECRETS_SOURCE !== 'file') throw new ConfigError('LOCAL_CLOCK_OFFSET_SECONDS is for the local stack only (SECRETS_SOURCE=file)');
  return value;
}
