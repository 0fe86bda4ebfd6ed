import type { LocalJwtConfig, LocalSandboxConfig, LocalSecrets } from '../../scripts/local/generate';

/** What test/support/global-setup.ts hands every test file (via vitest `provide` / `inject`). */
export interface LocalStackContext {
  /** DynamoDB Local, e.g. `http://127.0.0.1:41234` (also in env DYNAMODB_ENDPOINT). */
  dynamodbEndpoint: string;
  /** The run's table, created from shared/store/table.ts with TTL on (also in env TABLE_NAME). */
  tableName: string;
  /** The in-process sandbox's main and backup origins (env WECHATPAY_BASE_URL / WECHATPAY_BACKUP_BASE_URL). */
  sandboxUrl: string;
  sandboxBackupUrl: string;
  /** The merchant secrets file (docs/contracts.md §1) written for this run (env SECRETS_FILE). */
  secretsFile: string;
  secretIds: { direct: string; serviceProvider: string };
  /** The same secrets in memory, keyed by secret id. */
  secrets: LocalSecrets;
  /** The configuration the sandbox was started with (merchant public keys, sandbox key pair). */
  sandboxConfig: LocalSandboxConfig;
  /** Dev-token key material (env JWT_ISSUER / JWT_AUDIENCE / JWT_PUBLIC_KEY). */
  jwt: LocalJwtConfig;
  /**
   * PUBLIC_BASE_URL of this run: a port reserved for the API under test (nothing listens unless a test
   * starts something there), so sandbox notifications never reach a developer's `npm start`.
   */
  publicBaseUrl: string;
  publicPort: number;
  /** Every variable of docs/contracts.md §2 the setup exported (plus AWS_* dummies). */
  env: Record<string, string>;
}

declare module 'vitest' {
  interface ProvidedContext {
    localStack: LocalStackContext;
  }
}
