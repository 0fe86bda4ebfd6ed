export type { MerchantSecret, SecretsLoader } from './types';
export { SecretsError, type SecretsErrorCode } from './errors';
export {
  CachedSecretsLoader,
  DEFAULT_MAX_AGE_MS,
  DEFAULT_MIN_REFRESH_INTERVAL_MS,
  type CacheOptions,
  type SecretsLoaderEvent,
} from './cache';
export { SecretsManagerLoader, type SecretsManagerLoaderOptions } from './aws';
export { FileSecretsLoader, type FileSecretsLoaderOptions } from './file';
export { secretsLoaderFromEnv, type SecretsEnv } from './env';
export { merchantSecretSchema, parseMerchantSecret, redact, validateMerchantSecret } from './schema';
