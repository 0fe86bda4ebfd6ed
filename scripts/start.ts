/**
 * `npm start`: the whole stack on this machine, no internet, no merchant account.
 *
 *   .local/ keys + secrets (first run) -> DynamoDB Local (:8000, data in .local/dynamodb/) + table
 *   -> the WeChat Pay sandbox (:4010, backup :4011) -> serverless-offline (:3000)
 *
 * Ports: DYNAMODB_PORT, SANDBOX_PORT, SANDBOX_BACKUP_PORT, SANDBOX_TLS_PORT, API_PORT, LAMBDA_PORT. Ctrl-C stops everything.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTable, localDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from './local/dynamodb';
import { localFunctionEnv } from './local/env';
import { exampleRequests } from './local/examples';
import { ensureLocalConfig, type LocalSandboxConfig } from './local/generate';
import { checkServerlessYml, startOffline } from './local/offline';
import { pollTableStream } from './local/stream-events';
import { RECOVERERS } from '../shared/recovery/recoverers';
import { sweep } from '../shared/recovery/sweeper';
import { createRuntime } from '../shared/runtime/container';
import { assertPortFree, portFromEnv, StartupError } from './local/process';
import { mintDevToken } from './local/token';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOCAL_DIR = join(ROOT, '.local');
/** serverless.yml names the table `wechatpay-${sls:stage}`; the stage here is `local`. */
const TABLE_NAME = 'wechatpay-local';
const STAGE = 'local';

const tty = process.stdout.isTTY;
const color = (code: number) => (text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const green = color(32);
const red = color(31);
const dim = color(2);
const bold = color(1);

const ok = (text: string) => console.log(`${green('✓')} ${text}`);
const step = (text: string) => console.log(dim(`… ${text}`));

type Stoppable = { name: string; stop: () => Promise<unknown> };
const running: Stoppable[] = [];
let stopping: Promise<void> | undefined;

function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const item of running.reverse()) {
      try {
        await item.stop();
      } catch (error) {
        console.error(red(`✗ stopping ${item.name}: ${(error as Error).message}`));
      }
    }
  })();
  return stopping;
}

function onSignal(signal: NodeJS.Signals) {
  if (stopping) {
    console.log(red('forced exit'));
    process.exit(130);
  }
  console.log(dim(`\n${signal}: stopping…`));
  void stopAll().then(() => {
    console.log(dim('stopped'));
    process.exit(0);
  });
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function main(): Promise<void> {
  const began = performance.now();
  const since = () => `${((performance.now() - began) / 1000).toFixed(1)} s`;
  const env = process.env;
  const ports = {
    dynamodb: portFromEnv(env, 'DYNAMODB_PORT', 8000),
    sandbox: portFromEnv(env, 'SANDBOX_PORT', 4010),
    sandboxBackup: portFromEnv(env, 'SANDBOX_BACKUP_PORT', 4011),
    sandboxTls: portFromEnv(env, 'SANDBOX_TLS_PORT', 4012),
    api: portFromEnv(env, 'API_PORT', 3000),
    lambda: portFromEnv(env, 'LAMBDA_PORT', 3002),
  };
  const names: Record<keyof typeof ports, string> = {
    dynamodb: 'DYNAMODB_PORT',
    sandbox: 'SANDBOX_PORT',
    sandboxBackup: 'SANDBOX_BACKUP_PORT',
    sandboxTls: 'SANDBOX_TLS_PORT',
    api: 'API_PORT',
    lambda: 'LAMBDA_PORT',
  };
  const seen = new Map<number, string>();
  for (const [key, port] of Object.entries(ports) as [keyof typeof ports, number][]) {
    const other = seen.get(port);
    if (other) throw new StartupError(`${names[key]} and ${other} are both ${port}; give each its own port`);
    seen.set(port, names[key]);
  }
  // Every port up front, so a taken one fails in a second instead of after the JVM start.
  for (const [key, port] of Object.entries(ports) as [keyof typeof ports, number][]) {
    await assertPortFree(port, names[key]);
  }
  checkServerlessYml(ROOT);

  const config = await ensureLocalConfig(LOCAL_DIR);
  ok(config.created.length ? `keys and secrets generated in .local/ (first run)` : `keys and secrets from .local/`);

  // The JVM start dominates: start it first, the sandbox meanwhile.
  const dynamoPromise = startDynamoDbLocal({
    port: ports.dynamodb,
    inMemory: false,
    dbPath: join(LOCAL_DIR, 'dynamodb'),
  });
  dynamoPromise.then(
    (d) => running.push({ name: 'DynamoDB Local', stop: d.stop }),
    () => {},
  );
  const sandboxPromise = startSandboxInProcess(config.sandbox, ports.sandbox, ports.sandboxBackup, ports.sandboxTls);
  sandboxPromise.then(
    (s) => running.push({ name: 'sandbox', stop: () => s.close() }),
    () => {},
  );
  const [dynamo, sandbox] = await Promise.all([dynamoPromise, sandboxPromise]);
  ok(`WeChat Pay sandbox on :${ports.sandbox} (backup :${ports.sandboxBackup}, mutual TLS :${ports.sandboxTls})`);
  ok(`DynamoDB Local on :${ports.dynamodb} ${dim('(data in .local/dynamodb/)')}`);

  await createTable(dynamo);
  ok(`table ${TABLE_NAME}`);

  const apiUrl = `http://127.0.0.1:${ports.api}`;
  const functionEnv = localFunctionEnv({
    secretsFile: config.files.secrets,
    tableName: TABLE_NAME,
    dynamodbEndpoint: dynamo.endpoint,
    wechatpayBaseUrl: sandbox.url,
    wechatpayBackupBaseUrl: sandbox.backupUrl,
    publicBaseUrl: apiUrl,
    ...(sandbox.tlsUrl && config.sandbox.tls ? { mtls: { baseUrl: sandbox.tlsUrl, caCertPem: config.sandbox.tls.caCertPem } } : {}),
    jwt: config.jwt,
  });
  step('starting the API (serverless-offline + esbuild)…');
  const offline = await startOffline({
    root: ROOT,
    stage: STAGE,
    httpPort: ports.api,
    lambdaPort: ports.lambda,
    env: { ...functionEnv, FORCE_COLOR: tty ? '1' : '0' },
  });
  running.push({ name: 'serverless-offline', stop: offline.stop });
  ok(`API on ${apiUrl} ${dim(`(ready in ${since()})`)}`);

  // The recovery sweeper (EventBridge schedule when deployed) runs here in-process on an interval: cheap, and the
  // same code (shared/recovery) against the same table and sandbox.
  const sweepSeconds = Number(env['RECOVERY_SWEEP_INTERVAL_SECONDS'] ?? 60);
  if (sweepSeconds > 0) {
    const sweeperRuntime = createRuntime({ env: { ...process.env, ...functionEnv } });
    let sweeping = false;
    const timer = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      sweep(sweeperRuntime, RECOVERERS)
        .then((report) => {
          if (report.looked > 0) console.log(dim(`recovery sweep: ${JSON.stringify(report)}`));
        })
        .catch((error: unknown) => console.log(red(`recovery sweep failed: ${(error as Error).message}`)))
        .finally(() => {
          sweeping = false;
        });
    }, sweepSeconds * 1000);
    timer.unref();
    running.push({ name: 'recovery sweeper', stop: async () => clearInterval(timer) });
    ok(`recovery sweeper every ${sweepSeconds} s ${dim('(RECOVERY_SWEEP_INTERVAL_SECONDS; 0 turns it off)')}`);
  }

  // Domain events (a stream-triggered Lambda and an EventBridge bus when deployed): the same batch publisher, fed
  // by DynamoDB Local's stream, prints each event and appends it to .local/events.jsonl.
  const eventsFile = join(ROOT, '.local', 'events.jsonl');
  const streamClient = localDynamoDbClient(dynamo.endpoint);
  const events = await pollTableStream({
    dynamo: streamClient,
    endpoint: dynamo.endpoint,
    tableName: TABLE_NAME,
    publisher: {
      publish: async (list) => {
        for (const e of list) {
          console.log(`${green('event')} ${bold(e.type)} ${dim(JSON.stringify(e.data))}`);
          await appendFile(eventsFile, `${JSON.stringify(e)}\n`);
        }
      },
    },
  });
  running.push({ name: 'domain events', stop: async () => { await events.stop(); streamClient.destroy(); } });
  ok(`domain events from the table stream ${dim('(printed here, and in .local/events.jsonl)')}`);

  const token = await mintDevToken(config.jwt);
  console.log(`\n${bold('Ready.')} Try:\n`);
  console.log(exampleRequests({ apiUrl, sandboxUrl: sandbox.url, token }));
  console.log(dim(`\nCtrl-C stops everything. API logs follow.\n`));
  offline.follow((chunk) => process.stdout.write(chunk));
  offline.child.once('exit', (code, signal) => {
    // A terminal Ctrl-C reaches the child too; give our own SIGINT handler the first word.
    setTimeout(() => {
      if (stopping) return;
      console.error(red(`✗ serverless-offline exited (${signal ?? `code ${code}`}); stopping`));
      void stopAll().then(() => process.exit(1));
    }, 200);
  });
}

/** The sandbox runs in this process (sandbox/index.ts). */
async function startSandboxInProcess(sandboxConfig: LocalSandboxConfig, port: number, backupPort: number, tlsPort: number) {
  const { startSandbox } = await import('../sandbox/index');
  try {
    return await startSandbox({ config: sandboxConfig, port, backupPort, tlsPort, host: '127.0.0.1' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      const taken = (error as { port?: number }).port;
      throw new StartupError(
        `port ${taken ?? `${port}/${backupPort}/${tlsPort}`} is in use; set ${taken === backupPort ? 'SANDBOX_BACKUP_PORT' : taken === tlsPort ? 'SANDBOX_TLS_PORT' : 'SANDBOX_PORT'}`,
      );
    }
    throw error;
  }
}

async function createTable(dynamo: DynamoDbLocal): Promise<void> {
  const client = localDynamoDbClient(dynamo.endpoint);
  try {
    await ensureTable(client, TABLE_NAME);
  } finally {
    client.destroy();
  }
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  await main();
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(red(`✗ ${message}`));
  if (!(error instanceof StartupError) && process.env.DEBUG) console.error(error);
  await stopAll();
  process.exit(1);
}
