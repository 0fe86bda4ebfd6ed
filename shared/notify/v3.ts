import {
  DecryptionError,
  InvalidSignatureError,
  MalformedNotificationError,
  SignatureVerificationError,
  UnknownSerialError,
  openNotification,
  type OpenedNotification,
} from '../wechatpay';
import { lowerCaseHeaders, rawBody, type HttpEvent } from '../http/request';
import { json, type HttpResult } from '../http/responses';
import type { MerchantContext, MerchantRole } from '../merchant/context';
import type { Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { countNotification, countRefusalWithKnownSerial, notificationOutcome } from '../runtime/metrics';

/**
 * What a product does with an authentic, decrypted notification. Resolving means "stored (or already stored)":
 * WeChat gets its acknowledgement. Throwing means "not stored": WeChat gets a 5xx and sends it again.
 */
export type V3NotificationApplier = (notification: OpenedNotification, merchant: MerchantContext) => Promise<string>;

export class UnusableNotificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableNotificationError';
  }
}

const fail = (status: number, message: string): HttpResult => json(status, { code: 'FAIL', message });

/**
 * The one pipeline every v3 notify route runs: raw body → verify (serial, 300 s window, signature) → decrypt →
 * the product's applier. A notification we cannot verify is refused with 401 and changes nothing.
 */
export async function receiveV3Notification(
  rt: Runtime,
  event: HttpEvent,
  route: { name: string; role: MerchantRole; eventTypes: readonly string[]; apply: V3NotificationApplier },
): Promise<HttpResult> {
  const started = rt.now();
  const body = rawBody(event);
  const headers = lowerCaseHeaders(event);
  let merchant: MerchantContext;
  let notification: OpenedNotification;
  try {
    merchant = await rt.merchants.get(route.role);
    notification = await open(rt, route.role, merchant, headers, body).then((opened) => {
      merchant = opened.merchant;
      return opened.notification;
    });
  } catch (error) {
    if (error instanceof SignatureVerificationError || error instanceof DecryptionError || error instanceof MalformedNotificationError) {
      const knownSerial = refusedWithKnownSerial(error);
      logger.warn('notification refused', {
        function: route.name,
        outcome: 'refused',
        reason: error.name,
        known_serial: knownSerial,
        latency_ms: rt.now() - started,
      });
      countNotification('refused');
      if (knownSerial) countRefusalWithKnownSerial();
      return fail(401, verificationMessage(error));
    }
    logger.error('notification could not be checked', { function: route.name, error: errorName(error) });
    return fail(500, 'temporarily unable to process the notification');
  }

  if (!route.eventTypes.includes(notification.eventType)) {
    logger.warn('unexpected event type', { function: route.name, event_id: notification.id, event_type: notification.eventType });
    return fail(400, `event type ${notification.eventType} is not handled at this URL`);
  }

  try {
    const outcome = await route.apply(notification, merchant);
    logger.info('notification processed', {
      function: route.name,
      event_id: notification.id,
      event_type: notification.eventType,
      outcome,
      latency_ms: rt.now() - started,
    });
    countNotification(notificationOutcome(outcome));
    return { statusCode: 204 };
  } catch (error) {
    if (error instanceof UnusableNotificationError) {
      logger.warn('notification unusable', { function: route.name, event_id: notification.id, reason: error.message });
      return fail(400, error.message);
    }
    // Storage or downstream failure: a 5xx makes WeChat retry, so nothing is lost.
    logger.error('notification not stored', { function: route.name, event_id: notification.id, error: errorName(error) });
    countNotification('failed');
    return fail(500, 'temporarily unable to store the notification');
  }
}

async function open(
  rt: Runtime,
  role: MerchantRole,
  merchant: MerchantContext,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ merchant: MerchantContext; notification: OpenedNotification }> {
  const attempt = (m: MerchantContext) =>
    openNotification({ headers, body, keys: m.verifierKeys, apiV3Key: m.apiV3Key, now: rt.wallClock });
  try {
    return { merchant, notification: attempt(merchant) };
  } catch (error) {
    if (!(error instanceof UnknownSerialError)) throw error;
    // A key we do not hold yet (rotation, or the public-key migration): reload the secret once, rate-limited.
    const refreshed = await rt.merchants.refresh(role);
    if (refreshed === merchant) throw error;
    return { merchant: refreshed, notification: attempt(refreshed) };
  }
}

/**
 * Whether a refusal says something about our keys rather than about the sender: the serial named a key we hold
 * (after the one reload an unknown serial gets) and the signature did not verify under it, or the signature verified
 * and what it covered could not be decrypted (our APIv3 key) or read. Decryption and parsing run only after the
 * signature verified, so those two are WeChat's own messages. Not counted: missing or malformed headers, an unknown
 * serial, a stale timestamp (an old genuine notification replayed) and WeChat's deliberate SIGNTEST probes.
 */
function refusedWithKnownSerial(error: Error): boolean {
  return error instanceof InvalidSignatureError || error instanceof DecryptionError || error instanceof MalformedNotificationError;
}

function verificationMessage(error: Error): string {
  if (error instanceof DecryptionError) return 'resource could not be decrypted';
  if (error instanceof MalformedNotificationError) return 'malformed notification';
  return 'signature verification failed';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown';
}
