/**
 * `npm run ops -- <command>` against the local stack (default) or, with AWS credentials and TABLE_NAME /
 * SECRETS_SOURCE=aws / … set as for a deployed function, against a deployed one:
 *
 *   unmatched [PRODUCT]              unmatched notifications (flagged, no personal data)
 *   reapply PRODUCT BUSINESS_KEY     ask WeChat again and apply its answer; mark that key's unmatched items resolved
 *   history PRODUCT BUSINESS_KEY     one record: state, applied notification ids, WeChat ids, flags, domain events
 *   redrive-dlq                      move the presign DLQ's messages back to the queue (deployed stacks: SQS)
 *
 * PRODUCT is the name unmatched items are kept under: H5, CONTRACT_ORDER_PAYMENT, CONTRACT_ORDER_CONTRACT, REFUND,
 * DEDUCTION, REPAYMENT, REPAYMENT_CONTRACT.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRuntime } from '../shared/runtime/container';
import { localFunctionEnv } from './local/env';
import { history, listUnmatched, reapply } from './ops/operations';
import { redriveDlq } from './ops/redrive';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function environment(): Record<string, string | undefined> {
  if (process.env['TABLE_NAME']) return process.env;
  // The local stack's own settings (npm start): its table, DynamoDB Local, the sandbox and the generated secrets.
  return {
    ...process.env,
    ...localFunctionEnv({
      secretsFile: join(ROOT, '.local', 'secrets.json'),
      tableName: 'wechatpay-local',
      dynamodbEndpoint: 'http://127.0.0.1:8000',
      wechatpayBaseUrl: 'http://127.0.0.1:4010',
      wechatpayBackupBaseUrl: 'http://127.0.0.1:4011',
      publicBaseUrl: 'http://127.0.0.1:3000',
      jwt: { issuer: 'ops', audience: 'ops', publicKeyPem: '' } as never,
    }),
  };
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  const env = environment();
  Object.assign(process.env, env);
  const rt = createRuntime({ env });
  const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));
  switch (command) {
    case 'unmatched':
      return print(await listUnmatched(rt, args[0]));
    case 'reapply':
      if (args.length !== 2) throw new Error('usage: reapply PRODUCT BUSINESS_KEY');
      return print(await reapply(rt, args[0]!, args[1]!));
    case 'history':
      if (args.length !== 2) throw new Error('usage: history PRODUCT BUSINESS_KEY');
      return print(await history(rt, args[0]!, args[1]!, join(ROOT, '.local', 'events.jsonl')));
    case 'redrive-dlq':
      return print(await redriveDlq(env));
    default:
      console.log('usage: npm run ops -- unmatched [PRODUCT] | reapply PRODUCT KEY | history PRODUCT KEY | redrive-dlq');
      process.exitCode = command ? 1 : 0;
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
