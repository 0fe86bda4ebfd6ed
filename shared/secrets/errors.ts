export type SecretsErrorCode =
  /** SECRETS_SOURCE / SECRETS_FILE / options are wrong. */
  | 'config'
  /** The secret (or the file holding it) does not exist. */
  | 'not_found'
  /** The secret's text is not JSON. */
  | 'invalid_json'
  /** The JSON does not have the shape of docs/contracts.md §1. */
  | 'invalid_secret'
  /** Secrets Manager or the file system failed (access denied, throttled, network, …). */
  | 'source';

/**
 * Every failure of the secrets loaders. Its message names the secret id and the offending field, never a
 * value read from the secret: it is safe to log. Causes are only attached when they cannot hold secret
 * material (AWS SDK and file-system errors), never for JSON syntax errors (V8 quotes the input).
 */
export class SecretsError extends Error {
  override readonly name = 'SecretsError';
  readonly code: SecretsErrorCode;
  readonly secretId: string | undefined;
  /** For `invalid_secret`: every problem as `{ field, problem }`, without values. */
  readonly problems: readonly { readonly field: string; readonly problem: string }[];

  constructor(
    code: SecretsErrorCode,
    message: string,
    options: {
      secretId?: string;
      problems?: readonly { field: string; problem: string }[];
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.secretId = options.secretId;
    this.problems = options.problems ?? [];
  }
}
