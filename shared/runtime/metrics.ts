import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AttemptEvent } from '../wechatpay';

/**
 * CloudWatch metrics in embedded metric format (Powertools Metrics): written as log lines, so they cost no
 * API call on the hot path. Published once at the end of every invocation by the handler wrappers.
 */
const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'WechatPayServerless',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'wechatpay-serverless',
});

export type NotificationOutcome = 'accepted' | 'duplicate' | 'refused' | 'unmatched' | 'failed';

const NOTIFICATION_METRIC: Record<NotificationOutcome, string> = {
  accepted: 'NotificationsAccepted',
  duplicate: 'NotificationsDuplicate',
  refused: 'NotificationsRefused',
  unmatched: 'NotificationsUnmatched',
  failed: 'NotificationsFailed',
};

export function countNotification(outcome: NotificationOutcome): void {
  metrics.addMetric(NOTIFICATION_METRIC[outcome], MetricUnit.Count, 1);
}

/** Fed by the WeChat Pay clients' per-attempt hook: latency of every attempt, and every failed one. */
export function recordWechatAttempt(event: AttemptEvent): void {
  metrics.addMetric('WechatPayCallLatency', MetricUnit.Milliseconds, Math.round(event.durationMs));
  const failed = 'failure' in event.outcome || event.outcome.status >= 500;
  if (failed) metrics.addMetric('WechatPayCallErrors', MetricUnit.Count, 1);
}

export function publishMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

/** What an applier's outcome means for the notification metrics. */
export function notificationOutcome(applied: string): NotificationOutcome {
  if (applied === 'duplicate' || applied === 'superseded' || applied === 'unchanged') return 'duplicate';
  if (applied === 'unknown' || applied === 'mismatch' || applied === 'unmatched') return 'unmatched';
  return 'accepted';
}

/** Every refund outcome our call records; ABNORMAL is alarmed on (it needs a person, never a retry). */
export function countRefundOutcome(state: string): void {
  if (state === 'ABNORMAL') metrics.addMetric('RefundsAbnormal', MetricUnit.Count, 1);
  else if (state === 'UNCERTAIN') metrics.addMetric('RefundsUncertain', MetricUnit.Count, 1);
}
