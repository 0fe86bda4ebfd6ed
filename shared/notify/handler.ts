import type { Context } from 'aws-lambda';
import type { HttpEvent } from '../http/request';
import { withInvocation } from '../runtime/invocation';
import { json, type HttpResult } from '../http/responses';
import type { MerchantRole } from '../merchant/context';
import { runtime, type Runtime } from '../runtime/container';
import { logger } from '../runtime/logger';
import { receiveV3Notification, type V3NotificationApplier } from './v3';

export interface V3Route {
  role: MerchantRole;
  eventTypes: readonly string[];
  apply: V3NotificationApplier;
}

/**
 * A v3 notify Lambda: never lets an exception escape, because an escaped exception is a 200 under
 * serverless-offline and an opaque 502 in the cloud; WeChat must see a 5xx it will retry.
 */
export function v3NotifyHandler(name: string, route: (rt: Runtime) => V3Route): (event: HttpEvent, context?: Context) => Promise<HttpResult> {
  return (event, context) =>
    withInvocation(context, async () => {
      try {
        const rt = runtime();
        return await receiveV3Notification(rt, event, { name, ...route(rt) });
      } catch (error) {
        logger.error('notify handler failed', { function: name, error: error instanceof Error ? error.name : 'unknown' });
        return json(500, { code: 'FAIL', message: 'temporarily unable to process the notification' });
      }
    });
}
