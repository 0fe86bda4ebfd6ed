import { existsSync } from 'node:fs';
import type { CacheOptions } from './cache';
import { SecretsManagerLoader, type SecretsManagerLoaderOptions } from './aws';
import { SecretsError } from './errors';
import { FileSecretsLoader } from './file';
import type { SecretsLoader } from './types';

export type SecretsEnv = Readonly<Record<string, string | undefined>>;

/**
 * Chooses the loader from the environment (docs/contracts.md §2):
 * `SECRETS_SOURCE=aws` -> Secrets Manager; `SECRETS_SOURCE=file` + `SECRETS_FILE` -> the local file.
 * Throws a SecretsError (code `config`) naming the variable when the configuration is unusable, so a
 * misconfigured function fails at cold start rather than on the first payment.
 */
export function secretsLoaderFromEnv(
  env: SecretsEnv = process.env,
  options: CacheOptions & Pick<SecretsManagerLoaderOptions, 'client'> = {},
): SecretsLoader {
  const source = env.SECRETS_SOURCE?.trim();
  switch (source) {
    case 'aws':
      return new SecretsManagerLoader(options);
    case 'file': {
      const path = env.SECRETS_FILE?.trim();
      if (!path) {
        throw new SecretsError('config', 'SECRETS_SOURCE=file needs SECRETS_FILE (path of the secrets JSON file)');
      }
      if (!existsSync(path)) {
        throw new SecretsError(
          'config',
          `SECRETS_FILE=${path} does not exist (run \`npm start\` once to generate .local/secrets.json)`,
        );
      }
      const { client: _client, ...cacheOptions } = options;
      return new FileSecretsLoader({ ...cacheOptions, path });
    }
    case undefined:
    case '':
      throw new SecretsError('config', 'SECRETS_SOURCE is not set; expected "aws" or "file"');
    default:
      throw new SecretsError('config', `SECRETS_SOURCE="${source}" is not supported; expected "aws" or "file"`);
  }
}
