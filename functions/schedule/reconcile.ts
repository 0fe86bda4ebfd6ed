import type { Context } from 'aws-lambda';
import { previousDay, reconcileDay } from '../../shared/reconciliation';
import { runtime } from '../../shared/runtime/container';
import { withInvocation } from '../../shared/runtime/invocation';
import { logger } from '../../shared/runtime/logger';

/**
 * Daily after 10:00 Beijing time (EventBridge schedule): yesterday's trade bill against our settlements. Invoked with
 * `{"date": "YYYY-MM-DD"}` it re-runs any past day within WeChat's retention. A failure (bill not ready, WeChat
 * down) is thrown: the Errors alarm fires and EventBridge retries the asynchronous invocation.
 */
export const handler = (event: { date?: string } | undefined, context?: Context) =>
  withInvocation(context, async () => {
    const rt = runtime();
    const day = typeof event?.date === 'string' ? event.date : previousDay(rt.now());
    try {
      const { run } = await reconcileDay(rt, day);
      return run;
    } catch (error) {
      logger.error('reconciliation failed', { day, error: error instanceof Error ? `${error.name}: ${error.message}` : 'unknown' });
      throw error;
    }
  });
