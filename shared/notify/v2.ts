import {
  DEFAULT_MAX_XML_BYTES,
  RefundInfoError,
  V2SignatureError,
  decryptRefundInfo,
  XmlError,
  XmlTooLargeError,
  buildXml,
  parseXml,
  verifyV2,
} from '../wechatpay';
import { rawBody, type HttpEvent } from '../http/request';
import type { HttpResult } from '../http/responses';
import type { MerchantContext, MerchantRole } from '../merchant/context';
import { runtime, type Runtime } from '../runtime/container';
import type { Context } from 'aws-lambda';
import { withInvocation } from '../runtime/invocation';
import { countNotification, notificationOutcome } from '../runtime/metrics';
import { logger } from '../runtime/logger';
import { UnusableNotificationError } from './v3';

export { UnusableNotificationError } from './v3';

/**
 * What a product does with an authentic APIv2 notification (flat fields, sign verified with the APIv2 key).
 * Resolving means "stored (or already stored)": WeChat gets SUCCESS. Throwing `UnusableNotificationError` means
 * "authentic but not what this URL takes" (4xx); anything else means "not stored" (5xx, WeChat sends it again).
 */
export type V2NotificationApplier = (fields: Readonly<Record<string, string>>, merchant: MerchantContext) => Promise<string>;

export interface V2Route {
  role: MerchantRole;
  apply: V2NotificationApplier;
  /**
   * How the notification proves it is WeChat's: `sign` (default) checks the sign with the APIv2 key; `req_info`
   * (refund notifications, which carry no sign) opens the AES-256-ECB `req_info` with the key's MD5 and hands the
   * applier the outer fields merged with the decrypted ones (the applier must still bind them to its record).
   */
  authenticate?: 'sign' | 'req_info';
  /** Bodies above this many bytes are refused unread; v2 notifications are a few hundred bytes. */
  maxBytes?: number;
}

/** The one answer WeChat takes as "received" (docs/wechatpay.md, *APIv2*): exactly this, nothing around it. */
export const V2_SUCCESS_BODY = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

const XML_HEADERS = { 'content-type': 'text/xml; charset=utf-8' };

const success = (): HttpResult => ({ statusCode: 200, headers: XML_HEADERS, body: V2_SUCCESS_BODY });

/** A FAIL answer: WeChat keeps the notification and sends it again on its schedule. */
const fail = (status: number, message: string): HttpResult => ({
  statusCode: status,
  headers: XML_HEADERS,
  body: buildXml({ return_code: 'FAIL', return_msg: message }),
});

/**
 * The one pipeline every v2 notify route runs: raw body (base64 when flagged) → size limit → safe XML parse (no
 * DTD, no entities, flat) → `return_code` → sign (MD5 or HMAC-SHA256, by `sign_type` or sign length) with the
 * APIv2 key → the product's applier, which binds the event to our record. Nothing unverified changes state.
 */
export async function receiveV2Notification(rt: Runtime, event: HttpEvent, route: V2Route & { name: string }): Promise<HttpResult> {
  const started = rt.now();
  const maxBytes = route.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  const refuse = (status: number, reason: string, message: string): HttpResult => {
    logger.warn('notification refused', { function: route.name, outcome: 'refused', reason, latency_ms: rt.now() - started });
    countNotification('refused');
    return fail(status, message);
  };

  // Refuse an oversized body before decoding it: base64 is 4 characters per 3 bytes, and text is at least one byte
  // per character.
  const encodedLength = event.body?.length ?? 0;
  if ((event.isBase64Encoded ? Math.floor((encodedLength * 3) / 4) - 2 : encodedLength) > maxBytes) {
    return refuse(413, 'too_large', 'body too large');
  }
  let fields: Record<string, string>;
  try {
    fields = parseXml(rawBody(event), { maxBytes });
  } catch (error) {
    if (error instanceof XmlTooLargeError) return refuse(413, 'too_large', 'body too large');
    if (error instanceof XmlError) return refuse(400, error.code, 'malformed XML');
    throw error;
  }
  // A FAIL notification carries no sign and no business fields: nothing in it can be believed or stored.
  if (fields['return_code'] !== 'SUCCESS') return refuse(400, 'return_code', 'return_code is not SUCCESS');

  let merchant: MerchantContext;
  try {
    if (route.authenticate === 'req_info') ({ merchant, fields } = await openRefundInfo(rt, route.role, fields));
    else merchant = await verify(rt, route.role, fields);
  } catch (error) {
    if (error instanceof V2SignatureError) return refuse(401, error.reason, 'sign verification failed');
    if (error instanceof RefundInfoError) return refuse(401, error.code, 'req_info could not be opened');
    logger.error('notification could not be checked', { function: route.name, error: errorName(error) });
    return fail(500, 'temporarily unable to process the notification');
  }

  const businessKey = fields['out_refund_no'] ?? fields['out_trade_no'] ?? fields['contract_code'];
  try {
    const outcome = await route.apply(fields, merchant);
    logger.info('notification processed', { function: route.name, business_key: businessKey, outcome, latency_ms: rt.now() - started });
    countNotification(notificationOutcome(outcome));
    return success();
  } catch (error) {
    if (error instanceof UnusableNotificationError) {
      logger.warn('notification unusable', { function: route.name, business_key: businessKey, reason: error.message });
      return fail(400, error.message);
    }
    // Storage or downstream failure: a 5xx makes WeChat retry, so nothing is lost.
    logger.error('notification not stored', { function: route.name, business_key: businessKey, error: errorName(error) });
    countNotification('failed');
    return fail(500, 'temporarily unable to store the notification');
  }
}

/**
 * Verifies with the merchant's APIv2 key. A sign that does not match may mean the key was just rotated: the
 * secret is reloaded once (the loader rate-limits it) and the sign checked again with the new key.
 */
async function verify(rt: Runtime, role: MerchantRole, fields: Record<string, string>): Promise<MerchantContext> {
  const merchant = await rt.merchants.get(role);
  if (!merchant.apiV2Key) throw new Error(`the ${role} merchant has no apiV2Key`);
  try {
    verifyV2(fields, merchant.apiV2Key);
    return merchant;
  } catch (error) {
    if (!(error instanceof V2SignatureError) || error.reason !== 'mismatch') throw error;
    const refreshed = await rt.merchants.refresh(role);
    if (refreshed === merchant || !refreshed.apiV2Key || refreshed.apiV2Key === merchant.apiV2Key) throw error;
    verifyV2(fields, refreshed.apiV2Key);
    return refreshed;
  }
}

/**
 * Opens a refund notification's `req_info` with the merchant's APIv2 key (reloading the secret once if it does not
 * open: the key may just have been rotated). The outer `appid` / `mch_id` must be this merchant's.
 */
async function openRefundInfo(
  rt: Runtime,
  role: MerchantRole,
  outer: Record<string, string>,
): Promise<{ merchant: MerchantContext; fields: Record<string, string> }> {
  const reqInfo = outer['req_info'];
  if (!reqInfo) throw new RefundInfoError('req_info is missing');
  const open = (merchant: MerchantContext) => {
    if (!merchant.apiV2Key) throw new Error(`the ${role} merchant has no apiV2Key`);
    if (outer['mch_id'] !== merchant.mchid || (outer['appid'] !== undefined && outer['appid'] !== merchant.appid)) {
      throw new RefundInfoError('mch_id or appid is not this merchant');
    }
    // The outer envelope's own fields cannot override what the encrypted part says.
    const { req_info: _sealed, ...envelope } = outer;
    return { merchant, fields: { ...envelope, ...decryptRefundInfo(reqInfo, merchant.apiV2Key) } };
  };
  const merchant = await rt.merchants.get(role);
  try {
    return open(merchant);
  } catch (error) {
    if (!(error instanceof RefundInfoError)) throw error;
    const refreshed = await rt.merchants.refresh(role);
    if (refreshed === merchant || refreshed.apiV2Key === merchant.apiV2Key) throw error;
    return open(refreshed);
  }
}

/**
 * A v2 notify Lambda: never lets an exception escape (an escaped exception is a 200 under serverless-offline and an
 * opaque 502 in the cloud); WeChat must see a FAIL it will retry.
 */
export function v2NotifyHandler(name: string, route: (rt: Runtime) => V2Route): (event: HttpEvent, context?: Context) => Promise<HttpResult> {
  return (event, context) =>
    withInvocation(context, async () => {
      try {
        const rt = runtime();
        return await receiveV2Notification(rt, event, { name, ...route(rt) });
      } catch (error) {
        logger.error('notify handler failed', { function: name, error: errorName(error) });
        return fail(500, 'temporarily unable to process the notification');
      }
    });
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
