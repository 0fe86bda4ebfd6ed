import type { Context } from 'aws-lambda';
import { bindInvocation } from './logger';
import { publishMetrics } from './metrics';

/** Every handler's frame: logs carry the invocation's context, metrics are flushed once at the end. */
export async function withInvocation<T>(context: Context | undefined, run: () => Promise<T>): Promise<T> {
  bindInvocation(context);
  try {
    return await run();
  } finally {
    publishMetrics();
  }
}
