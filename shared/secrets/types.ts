/**
 * One merchant identity's credentials (docs/contracts.md §1). The same JSON lives in AWS Secrets Manager
 * (one secret per identity) and, offline, under its secret id in `.local/secrets.json`.
 */
export interface MerchantSecret {
  /** WeChat Pay merchant id (digits). */
  readonly mchid: string;
  /** The app id the merchant transacts under. */
  readonly appid: string;
  /** Serial number of the merchant API certificate (names our key in the Authorization header). */
  readonly merchantSerialNo: string;
  /** Merchant API private key, PEM (PKCS#8 or PKCS#1), RSA. */
  readonly merchantPrivateKey: string;
  /** APIv3 key: exactly 32 bytes; AES-256-GCM key of notifications and certificate downloads. */
  readonly apiV3Key: string;
  /** APIv2 key (direct merchant only): HMAC-SHA256 / MD5 key of the v2 XML API. */
  readonly apiV2Key?: string;
  /**
   * Merchant API certificate (apiclient_cert.pem) of `merchantPrivateKey`: the client certificate of the APIv2
   * calls that require mutual TLS (`/secapi/pay/refund`). Optional; refunds of APIv2 orders need it.
   */
  readonly merchantCertificate?: string;
  /**
   * WeChat Pay verification keys: `PUB_KEY_ID_…` or platform-certificate serial -> PEM public key or
   * certificate. Never empty. The first `PUB_KEY_ID_…` entry (else the first entry) encrypts sensitive fields.
   */
  readonly wechatpayPublicKeys: Readonly<Record<string, string>>;
  /**
   * HMAC keys for request fingerprints, by key id; the first one fingerprints new requests, the others only
   * verify records made before a rotation. Independent of every WeChat key, so rotating the APIv3 key never
   * makes a stored request stop recognising its own retry.
   */
  readonly fingerprintKeys: Readonly<Record<string, string>>;
}

/**
 * Reads merchant secrets by secret id.
 *
 * - `get` serves a per-container cache (max age, default 5 min); concurrent callers share one load.
 * - `refresh` forces one reload — for a notification signed by a key we do not know yet — but at most once
 *   per `minRefreshIntervalMs` (default 30 s) per secret id; a throttled call answers with what is cached
 *   (or the load already under way), so a flood of unknown-serial notifications cannot hammer the source.
 *
 * The object returned stays the same instance until a reload replaces it, so callers may cache parsed keys
 * against it (e.g. in a WeakMap).
 */
export interface SecretsLoader {
  get(secretId: string): Promise<MerchantSecret>;
  refresh(secretId: string): Promise<MerchantSecret>;
}
