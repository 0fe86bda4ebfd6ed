import type { Context } from 'aws-lambda';
import { RECOVERERS } from '../../shared/recovery/recoverers';
import { sweep, type SweepReport } from '../../shared/recovery/sweeper';
import { runtime } from '../../shared/runtime/container';
import { withInvocation } from '../../shared/runtime/invocation';

/** EventBridge schedule → one bounded recovery sweep over every product's pending records (shared/recovery). */
export const handler = (_event: unknown, context?: Context): Promise<SweepReport> =>
  withInvocation(context, () => sweep(runtime(), RECOVERERS, sweepSettings(process.env)));

function sweepSettings(env: NodeJS.ProcessEnv) {
  const n = (name: string) => (env[name] && Number.isFinite(Number(env[name])) ? Number(env[name]) : undefined);
  return {
    ...(n('RECOVERY_MAX_QPS') !== undefined ? { maxQps: n('RECOVERY_MAX_QPS')! } : {}),
    ...(n('RECOVERY_STILL_PENDING_HOURS') !== undefined ? { stillPendingAfterMs: n('RECOVERY_STILL_PENDING_HOURS')! * 3600_000 } : {}),
  };
}
