import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CachedSecretsLoader, type CacheOptions } from './cache';
import { SecretsError } from './errors';
import { parseMerchantSecret } from './schema';
import type { MerchantSecret } from './types';

export interface SecretsManagerLoaderOptions extends CacheOptions {
  /** Injectable for tests (aws-sdk-client-mock) or custom config. Default: `new SecretsManagerClient({})`. */
  client?: SecretsManagerClient;
  /** Version stage to read. Default AWSCURRENT. */
  versionStage?: string;
}

/** Reads secrets from AWS Secrets Manager (GetSecretValue), cached per container. */
export class SecretsManagerLoader extends CachedSecretsLoader {
  #client: SecretsManagerClient | undefined;
  readonly #versionStage: string | undefined;

  constructor(options: SecretsManagerLoaderOptions = {}) {
    super(options);
    this.#client = options.client;
    this.#versionStage = options.versionStage;
  }

  protected async fetchSecret(secretId: string): Promise<MerchantSecret> {
    this.#client ??= new SecretsManagerClient({});
    let output;
    try {
      output = await this.#client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          ...(this.#versionStage === undefined ? {} : { VersionStage: this.#versionStage }),
        }),
      );
    } catch (error) {
      // AWS errors carry the error name and a message about the request (ARN, principal), never the value.
      const name = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      if (name === 'ResourceNotFoundException') {
        throw new SecretsError('not_found', `secret "${secretId}" was not found in Secrets Manager`, {
          secretId,
          cause: error,
        });
      }
      throw new SecretsError('source', `reading secret "${secretId}" from Secrets Manager failed: ${name}: ${message}`, {
        secretId,
        cause: error,
      });
    }
    const text =
      output.SecretString ??
      (output.SecretBinary === undefined ? undefined : Buffer.from(output.SecretBinary).toString('utf8'));
    if (text === undefined) {
      throw new SecretsError('invalid_secret', `secret "${secretId}" has no value (neither SecretString nor SecretBinary)`, {
        secretId,
      });
    }
    return parseMerchantSecret(text, secretId);
  }
}
