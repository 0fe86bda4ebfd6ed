import { inject } from 'vitest';
import { localDynamoDbClient } from '../../scripts/local/dynamodb';
import { mintDevToken, type DevTokenOptions } from '../../scripts/local/token';
import { FileSecretsLoader } from '../../shared/secrets/file';
import type { LocalStackContext } from './context';

export type { LocalStackContext } from './context';

/**
 * The local stack started by test/support/global-setup.ts: DynamoDB Local + table, the sandbox, the
 * secrets file and JWT keys. The same values are in `process.env` (docs/contracts.md §2).
 */
export function localStack(): LocalStackContext {
  const context = inject('localStack');
  if (!context) {
    throw new Error(
      'no local stack: add globalSetup: ["test/support/global-setup.ts"] to vitest.config.ts (test section)',
    );
  }
  return context;
}

/** A DynamoDB client for the run's DynamoDB Local (dummy credentials). Destroy it in afterAll. */
export function testDynamoDbClient() {
  return localDynamoDbClient(localStack().dynamodbEndpoint);
}

/** A fresh (uncached) secrets loader over the run's secrets file. */
export function testSecretsLoader(): FileSecretsLoader {
  return new FileSecretsLoader({ path: localStack().secretsFile });
}

/** A bearer token the API under test accepts (all scopes unless `scope` says otherwise). */
export function testToken(options: DevTokenOptions = {}): Promise<string> {
  return mintDevToken(localStack().jwt, options);
}
