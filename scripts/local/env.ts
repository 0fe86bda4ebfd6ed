import { LOCAL_AWS_ENV } from './dynamodb';
import { DIRECT_MERCHANT_SECRET_ID, SERVICE_PROVIDER_SECRET_ID, type LocalJwtConfig } from './generate';

export interface LocalFunctionEnvInput {
  /** Absolute path of the secrets JSON file. */
  secretsFile: string;
  tableName: string;
  dynamodbEndpoint: string;
  wechatpayBaseUrl: string;
  wechatpayBackupBaseUrl: string;
  publicBaseUrl: string;
  /** The sandbox's HTTPS listener (mutual TLS for `/secapi/…`) and the CA that issued its certificate. */
  mtls?: { baseUrl: string; caCertPem: string };
  jwt: Pick<LocalJwtConfig, 'issuer' | 'audience' | 'publicKeyPem'>;
}

/** The function environment of docs/contracts.md §2 for a local stack, plus the dummy AWS credentials. */
export function localFunctionEnv(input: LocalFunctionEnvInput): Record<string, string> {
  return {
    ...LOCAL_AWS_ENV,
    SECRETS_SOURCE: 'file',
    SECRETS_FILE: input.secretsFile,
    DIRECT_MERCHANT_SECRET_ID,
    SERVICE_PROVIDER_SECRET_ID,
    WECHATPAY_BASE_URL: input.wechatpayBaseUrl,
    WECHATPAY_BACKUP_BASE_URL: input.wechatpayBackupBaseUrl,
    TABLE_NAME: input.tableName,
    DYNAMODB_ENDPOINT: input.dynamodbEndpoint,
    PUBLIC_BASE_URL: input.publicBaseUrl,
    ...(input.mtls ? { WECHATPAY_MTLS_BASE_URL: input.mtls.baseUrl, WECHATPAY_TLS_CA_PEM: input.mtls.caCertPem } : {}),
    JWT_ISSUER: input.jwt.issuer,
    JWT_AUDIENCE: input.jwt.audience,
    JWT_PUBLIC_KEY: input.jwt.publicKeyPem,
  };
}
