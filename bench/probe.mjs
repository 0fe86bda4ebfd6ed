// A fresh-process cold-start probe, run with plain `node` (no tsx): times the dynamic import of one bundle and,
// optionally, its first invocations. Prints one result line prefixed with @@BENCH (handlers may log above it).
//
//   node --enable-source-maps bench/probe.mjs <bundle.mjs>
//   BENCH_PROBE_INVOKE='{"export":"handler","events":[...]}' node ... bench/probe.mjs <bundle.mjs>
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
if (!file) throw new Error('usage: probe.mjs <bundle>');
const invoke = process.env.BENCH_PROBE_INVOKE ? JSON.parse(process.env.BENCH_PROBE_INVOKE) : undefined;

const t0 = process.hrtime.bigint();
const mod = await import(pathToFileURL(file).href);
const t1 = process.hrtime.bigint();
const result = { importMs: Number(t1 - t0) / 1e6, invocations: [] };

if (invoke) {
  const fn = mod[invoke.export ?? 'handler'];
  for (const [i, event] of invoke.events.entries()) {
    const context = {
      awsRequestId: `bench-${process.pid}-${i}`,
      functionName: invoke.functionName ?? 'bench',
      functionVersion: '$LATEST',
      memoryLimitInMB: '512',
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${invoke.functionName ?? 'bench'}`,
      logGroupName: '/aws/lambda/bench',
      logStreamName: 'bench',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 10_000,
    };
    const start = process.hrtime.bigint();
    let outcome;
    try {
      const answer = await fn(event, context);
      outcome = answer && typeof answer === 'object' && 'statusCode' in answer ? answer.statusCode : answer && typeof answer === 'object' && 'isAuthorized' in answer ? `authorized=${answer.isAuthorized}` : 'ok';
    } catch (error) {
      outcome = `threw ${error instanceof Error ? error.message : String(error)}`;
    }
    result.invocations.push({ ms: Number(process.hrtime.bigint() - start) / 1e6, outcome });
  }
}

process.stdout.write(`\n@@BENCH ${JSON.stringify(result)}\n`, () => process.exit(0));
