/**
 * Builders for the notifications WeChat sends: APIv3 encrypted JSON envelopes and
 * APIv2 signed XML (docs/wechatpay.md).
 */
import type { SandboxWechatpayKey } from './config';
import { aesGcmEncrypt, randomAlnum, v2Sign, type V2SignType } from './crypto';
import { rfc3339 } from './clock';
import { notificationId } from './ids';
import type { OutgoingNotification } from './notifier';
import { wechatpaySignatureHeaders } from './signer';
import { buildV2Xml, isV2SuccessAck } from './xml';

const USER_AGENT = 'Mozilla/4.0 (WechatPay-Sandbox)';

export interface V3NotificationInput {
  key: SandboxWechatpayKey;
  apiV3Key: string;
  event: string;
  summary: string;
  originalType: string;
  associatedData: string;
  resource: Record<string, unknown>;
  target: string;
  schedule: readonly number[];
  /** Business time for create_time; real time is used for signature timestamps. */
  nowMs: number;
  realNow: () => number;
}

export function v3Notification(input: V3NotificationInput): OutgoingNotification {
  const id = notificationId();
  const nonce = randomAlnum(12);
  const envelope = {
    id,
    create_time: rfc3339(input.nowMs),
    resource_type: 'encrypt-resource',
    event_type: input.event,
    summary: input.summary,
    resource: {
      original_type: input.originalType,
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: aesGcmEncrypt(JSON.stringify(input.resource), input.apiV3Key, nonce, input.associatedData),
      associated_data: input.associatedData,
      nonce,
    },
  };
  const body = Buffer.from(JSON.stringify(envelope), 'utf8');
  return {
    id,
    protocol: 'v3',
    event: input.event,
    target: input.target,
    schedule: input.schedule,
    body,
    headers: (probe) => ({
      'Content-Type': 'application/json',
      'User-Agent': USER_AGENT,
      ...wechatpaySignatureHeaders(input.key, body, input.realNow(), probe),
    }),
    acknowledged: (status) => status === 200 || status === 204,
  };
}

export interface V2NotificationInput {
  event: 'V2.PAYMENT' | 'V2.CONTRACT.ADD' | 'V2.CONTRACT.DELETE' | 'V2.PAPAY';
  target: string;
  schedule: readonly number[];
  fields: Record<string, string>;
  apiV2Key: string;
  signType: V2SignType;
}

export function v2Notification(input: V2NotificationInput): OutgoingNotification {
  const fields: Record<string, string> = { ...input.fields };
  // the payment notification carries nonce_str; the official contract-notification sample has none
  if (input.event === 'V2.PAYMENT' || input.event === 'V2.PAPAY') fields['nonce_str'] = randomAlnum(32);
  if (input.signType === 'HMAC-SHA256') fields['sign_type'] = 'HMAC-SHA256';
  fields['sign'] = v2Sign(fields, input.apiV2Key, input.signType);
  const body = Buffer.from(buildV2Xml(fields), 'utf8');
  return {
    id: `v2-${notificationId()}`,
    protocol: 'v2',
    event: input.event,
    target: input.target,
    schedule: input.schedule,
    body,
    headers: () => ({ 'Content-Type': 'text/xml; charset=utf-8', 'User-Agent': USER_AGENT }),
    acknowledged: (status, text) => status === 200 && isV2SuccessAck(text),
  };
}
