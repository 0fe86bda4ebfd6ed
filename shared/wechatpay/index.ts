/**
 * WeChat Pay protocol: APIv3 signing, verification, AEAD and OAEP; notification opening; APIv2
 * sign and XML; HTTP clients. Pure node:crypto + fast-xml-parser, no cloud dependencies.
 */
export * from './errors';
export {
  buildVerifierKeys,
  certificateSerial,
  preferredEncryptionKey,
  type EncryptionKeyChoice,
  privateKeyFrom,
  publicKeyFrom,
} from './keys';
export { createNonce } from './nonce';

export {
  AUTHORIZATION_SCHEME,
  type AuthorizationInput,
  buildAuthorization,
  canonicalUrl,
  formatAuthorization,
  rsaSha256Sign,
  signatureMessage,
} from './v3/signer';
export {
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_PROBE_PREFIX,
  SIGNATURE_TYPE,
  type HeaderSource,
  type HeaderValue,
  type VerifiedSignature,
  type VerifySignatureInput,
  rsaSha256Verify,
  verifyWechatPaySignature,
} from './v3/verifier';
export { type AeadResource, type ApiV3Key, decryptAeadAes256Gcm, encryptAeadAes256Gcm } from './v3/aead';
export {
  type EncryptionKey,
  type SensitiveCiphertext,
  decryptSensitive,
  encryptSensitive,
} from './v3/oaep';
export {
  NOTIFICATION_ALGORITHM,
  type OpenNotificationInput,
  type OpenedNotification,
  openNotification,
} from './v3/notification';

export {
  type V2ParamValue,
  type V2Params,
  type V2ParamsLike,
  type V2SignType,
  type VerifyV2Options,
  signV2,
  v2SigningString,
  verifyV2,
} from './v2/sign';
export { DEFAULT_MAX_XML_BYTES, type ParseXmlOptions, buildXml, parseXml } from './v2/xml';
export { RefundInfoError, decryptRefundInfo } from './v2/refund-info';

export {
  type AttemptEvent,
  type BackoffOptions,
  type FetchLike,
  type OutgoingRequest,
  type RawResponse,
  type Sleep,
  type TransportOptions,
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_TIMEOUT_MS,
  Transport,
} from './http/transport';
export { CLIENT_NAME, CLIENT_VERSION, defaultUserAgent } from './http/user-agent';
export {
  type QueryValue,
  type V3Request,
  type V3Response,
  WechatPayV3Client,
  type WechatPayV3ClientOptions,
} from './http/v3-client';
export { type V2Response, WechatPayV2Client, type WechatPayV2ClientOptions } from './http/v2-client';
