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

/**
 * A refused v3 notification that named a `Wechatpay-Serial` we hold and still failed: the signature did not verify
 * under that key, or it verified and the resource could not be decrypted or read. Counted on top of
 * `NotificationsRefused`. The notify routes are public, so the raw refusal count is anyone's to drive with curl and
 * is only a metric; this one needs one of our serials (not in anything an outsider sees), or WeChat's own signature,
 * and means our keys or WeChat's changed, so it is the one alarmed on (serverless.yml). APIv2 notifications carry no
 * key id: a wrong sign cannot be told from a forgery, so they never count here.
 */
export function countRefusalWithKnownSerial(): void {
  metrics.addMetric(REFUSED_WITH_KNOWN_SERIAL, MetricUnit.Count, 1);
}

export const REFUSED_WITH_KNOWN_SERIAL = 'NotificationsRefusedKnownSerial';

/** Fed by the WeChat Pay clients' per-attempt hook: latency of every attempt, and every failed one. */
export function recordWechatAttempt(event: AttemptEvent): void {
  metrics.addMetric('WechatPayCallLatency', MetricUnit.Milliseconds, Math.round(event.durationMs));
  const failed = 'failure' in event.outcome || event.outcome.status >= 500;
  if (failed) metrics.addMetric('WechatPayCallErrors', MetricUnit.Count, 1);
}

/** The recovery sweeper (shared/recovery): records settled, still pending after the alarm age, failed queries. */
export type RecoveryMetric = 'RecoveryRecovered' | 'RecoveryStillPending' | 'RecoveryQueryFailures';

export function countRecovery(metric: RecoveryMetric, count = 1): void {
  if (count > 0) metrics.addMetric(metric, MetricUnit.Count, count);
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

/** A reconciliation's differences (alarmed on: any is money WeChat and we disagree about). */
export function countReconciliationDifferences(count: number): void {
  metrics.addMetric('ReconciliationDifferences', MetricUnit.Count, count);
}
