import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { TTL_ATTRIBUTE, tableDefinition } from '../../shared/store/table';
import { assertPortFree, findExecutable, freePort, killOnExit, spawnTied, StartupError, stopChild } from './process';

export { freePort } from './process';

export const JAVA_REQUIRED = 'Java 17+ is required for DynamoDB Local: apt-get install -y openjdk-17-jre-headless';

/** Credentials and region every local client uses (DynamoDB Local accepts anything; -sharedDb ignores them). */
export const LOCAL_AWS_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
} as const;

export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
}

/** The emulator folder shipped in amplify-dynamodb-simulator (DynamoDBLocal.jar + DynamoDBLocal_lib/). */
export function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('amplify-dynamodb-simulator/package.json');
  } catch {
    throw new StartupError('amplify-dynamodb-simulator is not installed (npm install): it carries DynamoDB Local');
  }
  const dir = join(dirname(pkg), 'emulator');
  if (!existsSync(join(dir, 'DynamoDBLocal.jar'))) {
    throw new StartupError(`DynamoDB Local jar not found at ${join(dir, 'DynamoDBLocal.jar')}`);
  }
  return dir;
}

function findJava(): string {
  const home = process.env.JAVA_HOME;
  if (home) {
    const java = join(home, 'bin', process.platform === 'win32' ? 'java.exe' : 'java');
    if (existsSync(java)) return java;
  }
  const java = findExecutable('java');
  if (!java) throw new StartupError(JAVA_REQUIRED);
  return java;
}

export interface DynamoDbLocalOptions {
  /** Port to listen on; default a free one. */
  port?: number;
  /** Keep the data in memory (default) or persist it under `dbPath`. */
  inMemory?: boolean;
  /** Folder of the database file when `inMemory` is false (created if missing). */
  dbPath?: string;
  /** Named in the "port in use" error. Default DYNAMODB_PORT. */
  portEnvName?: string;
  /** Give up waiting for the first answer after this long. Default 60 s. */
  startTimeoutMs?: number;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts AWS's DynamoDB Local (java) and resolves once it answers ListTables. The process is killed on
 * `stop()`, when this process exits, and (Linux) even when this process is killed.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const inMemory = options.inMemory ?? true;
  const port = options.port ?? (await freePort());
  const dir = emulatorDir();
  const java = findJava();
  await assertPortFree(port, options.portEnvName ?? 'DYNAMODB_PORT');

  const args = [
    // Faster JVM start for a short-lived dev server.
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
    '-port',
    String(port),
    '-sharedDb',
    '-disableTelemetry',
  ];
  if (inMemory) {
    args.push('-inMemory');
  } else {
    const dbPath = resolve(options.dbPath ?? '.local/dynamodb');
    mkdirSync(dbPath, { recursive: true, mode: 0o700 });
    args.push('-dbPath', dbPath);
  }

  const child: ChildProcess = spawnTied(java, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const removeExitGuard = killOnExit(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  child.once('error', (error: NodeJS.ErrnoException) => {
    spawnError = error;
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    removeExitGuard();
    await stopChild(child);
  };

  const client = localDynamoDbClient(endpoint);
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (spawnError) {
        throw spawnError.code === 'ENOENT' ? new StartupError(JAVA_REQUIRED) : spawnError;
      }
      if (exited) throw exitError(output, port, options.portEnvName ?? 'DYNAMODB_PORT', exited);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1_000) });
        break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        throw new StartupError(`DynamoDB Local did not answer on ${endpoint} within ${options.startTimeoutMs ?? 60_000} ms`);
      }
      await sleep(50);
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  // Nobody reads the output once it is up; keep draining it so the pipe never blocks.
  return { endpoint, port, pid: child.pid, stop };
}

function exitError(
  output: string,
  port: number,
  portEnvName: string,
  exited: { code: number | null; signal: NodeJS.Signals | null },
): StartupError {
  if (/UnsupportedClassVersionError|has been compiled by a more recent version/.test(output)) {
    return new StartupError(JAVA_REQUIRED);
  }
  if (/Address already in use|BindException/.test(output)) {
    return new StartupError(`port ${port} is in use; set ${portEnvName}`);
  }
  const last = output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .filter((line) => !/^at /.test(line))
    .slice(-2)
    .join(' | ');
  const how = exited.signal ? `signal ${exited.signal}` : `code ${exited.code}`;
  return new StartupError(`DynamoDB Local exited (${how})${last ? `: ${last}` : ''}`);
}

/**
 * Creates the table from `tableDefinition` (shared/store/table.ts) unless it exists, waits for ACTIVE and
 * turns TTL on for `TTL_ATTRIBUTE`. Idempotent; safe against a concurrent creator.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  let table = await describe(client, tableName);
  if (!table) {
    try {
      await client.send(new CreateTableCommand(tableDefinition(tableName)));
    } catch (error) {
      if ((error as Error).name !== 'ResourceInUseException') throw error;
    }
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    table = await describe(client, tableName);
    if (table?.TableStatus === 'ACTIVE') break;
    if (Date.now() > deadline) throw new StartupError(`table ${tableName} did not become ACTIVE within 60 s`);
    await sleep(50);
  }
  // A table made before an index was added (a developer's persistent .local table) gets it now.
  const missing = (tableDefinition(tableName).GlobalSecondaryIndexes ?? []).filter(
    (index) => !(table!.GlobalSecondaryIndexes ?? []).some((have) => have.IndexName === index.IndexName),
  );
  for (const index of missing) {
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: tableDefinition(tableName).AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection } }],
      }),
    );
  }
  const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
  const attribute = ttl.TimeToLiveDescription?.AttributeName;
  if (!(attribute === TTL_ATTRIBUTE && (status === 'ENABLED' || status === 'ENABLING'))) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  }
  return table;
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}
