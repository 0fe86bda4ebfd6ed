import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CachedSecretsLoader, type CacheOptions } from './cache';
import { SecretsError } from './errors';
import { parseJson, validateMerchantSecret } from './schema';
import type { MerchantSecret } from './types';

export interface FileSecretsLoaderOptions extends CacheOptions {
  /** JSON file `{ "<secret id>": { ...secret... } }` (docs/contracts.md §1), e.g. `.local/secrets.json`. */
  path: string;
}

/** Reads secrets from a local JSON file (offline / tests), with the same cache and validation. */
export class FileSecretsLoader extends CachedSecretsLoader {
  readonly path: string;

  constructor(options: FileSecretsLoaderOptions) {
    super(options);
    if (typeof options.path !== 'string' || options.path === '') {
      throw new SecretsError('config', 'FileSecretsLoader needs the path of the secrets file');
    }
    this.path = resolve(options.path);
  }

  protected async fetchSecret(secretId: string): Promise<MerchantSecret> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new SecretsError('not_found', `secrets file ${this.path} does not exist`, { secretId });
      }
      throw new SecretsError('source', `reading secrets file ${this.path} failed: ${code ?? 'error'}`, {
        secretId,
        cause: error,
      });
    }
    const all = parseJson(text, `secrets file ${this.path}`, secretId);
    if (all === null || typeof all !== 'object' || Array.isArray(all)) {
      throw new SecretsError('invalid_secret', `secrets file ${this.path} must be a JSON object keyed by secret id`, {
        secretId,
      });
    }
    if (!Object.hasOwn(all, secretId)) {
      const known = Object.keys(all).map((id) => `"${id}"`).join(', ') || 'none';
      throw new SecretsError('not_found', `secret "${secretId}" is not in secrets file ${this.path} (it has: ${known})`, {
        secretId,
      });
    }
    return validateMerchantSecret((all as Record<string, unknown>)[secretId], secretId);
  }
}
