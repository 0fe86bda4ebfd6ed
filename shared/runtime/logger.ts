import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/**
 * Structured JSON logs (Powertools Logger), one line per event, with the Lambda request id, function name and
 * cold-start flag once `withInvocation` has seen the context. Callers pass business keys and outcomes only:
 * never request bodies, secrets, keys, names or ID numbers.
 */
const powertools = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'wechatpay-serverless' });

type Fields = Record<string, unknown>;

export const logger = {
  debug: (message: string, fields: Fields = {}) => powertools.debug(message, fields),
  info: (message: string, fields: Fields = {}) => powertools.info(message, fields),
  warn: (message: string, fields: Fields = {}) => powertools.warn(message, fields),
  error: (message: string, fields: Fields = {}) => powertools.error(message, fields),
};

/** Binds the invocation's context (request id, function, cold start) to every log line it writes. */
export function bindInvocation(context: Context | undefined): void {
  if (context && typeof context.awsRequestId === 'string') powertools.addContext(context);
}
