/**
 * `npm run -s secret -- …`: builds one merchant secret (docs/contracts.md §1) from the files the WeChat Pay merchant
 * platform hands out, checks every input, and prints the secret JSON to stdout — nothing is written anywhere else.
 *
 *   WECHATPAY_API_V3_KEY=… WECHATPAY_API_V2_KEY=… npm run -s secret -- \
 *     --mchid 1900000001 --appid wx8888888888888888 \
 *     --serial 3775B6A45ACD588826D15E583A95F5DD2E0A9A1F --key apiclient_key.pem [--cert apiclient_cert.pem] \
 *     --wechatpay-public-key pub_key.pem --public-key-id PUB_KEY_ID_0114232134912410000000000000 \
 *     [--platform-certificate wechatpay_cert.pem …] \
 *   | aws secretsmanager create-secret --name wechatpay/direct-merchant --secret-string file:///dev/stdin
 *
 * The API keys are never taken from the command line (every user on the machine sees it in `ps`, and it lands in
 * shell history and CI logs): they come from WECHATPAY_API_V3_KEY / WECHATPAY_API_V2_KEY, or are asked for on the
 * terminal without echo. docs/deploy.md walks through the whole onboarding.
 */
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateMerchantSecret } from '../shared/secrets/schema';

/** A problem with one input; `flag` names it (a command-line flag, or the environment variable of a key). */
export class SecretInputError extends Error {
  override readonly name = 'SecretInputError';
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`${flag}: ${problem}`);
  }
}

export const API_V3_KEY_ENV = 'WECHATPAY_API_V3_KEY';
export const API_V2_KEY_ENV = 'WECHATPAY_API_V2_KEY';

/** Flags that take a value; `--platform-certificate` may be repeated. */
const VALUE_FLAGS = [
  '--mchid',
  '--appid',
  '--serial',
  '--key',
  '--cert',
  '--wechatpay-public-key',
  '--public-key-id',
  '--platform-certificate',
] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

/** Secrets that must not be passed as arguments, and where they come from instead. */
const REFUSED_FLAGS: Record<string, string> = {
  '--api-v3-key': API_V3_KEY_ENV,
  '--api-v2-key': API_V2_KEY_ENV,
};

export interface SecretArgs {
  mchid?: string;
  appid?: string;
  serial?: string;
  key?: string;
  cert?: string;
  wechatpayPublicKey?: string;
  publicKeyId?: string;
  platformCertificates: string[];
  help: boolean;
}

const FIELD_OF: Record<Exclude<ValueFlag, '--platform-certificate'>, keyof SecretArgs> = {
  '--mchid': 'mchid',
  '--appid': 'appid',
  '--serial': 'serial',
  '--key': 'key',
  '--cert': 'cert',
  '--wechatpay-public-key': 'wechatpayPublicKey',
  '--public-key-id': 'publicKeyId',
};

export const USAGE = `Usage: npm run -s secret -- --mchid <digits> --appid <appid> --serial <merchant certificate serial>
         --key apiclient_key.pem [--cert apiclient_cert.pem]
         --wechatpay-public-key pub_key.pem --public-key-id PUB_KEY_ID_…
         [--platform-certificate wechatpay_cert.pem …]

Prints the merchant secret JSON on stdout (for aws secretsmanager create-secret --secret-string file:///dev/stdin).
API keys: ${API_V3_KEY_ENV} and ${API_V2_KEY_ENV} (APIv2: the direct merchant only; set it empty to leave it out),
else asked for on the terminal without echo. They are never accepted as arguments.
See docs/deploy.md.
`;

/** `--flag value` and `--flag=value`. Errors name the flag. */
export function parseSecretArgs(argv: readonly string[]): SecretArgs {
  const args: SecretArgs = { platformCertificates: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--help' || token === '-h') {
      args.help = true;
      continue;
    }
    const eq = token.indexOf('=');
    const name = token.startsWith('--') && eq > 0 ? token.slice(0, eq) : token;
    const envVar = REFUSED_FLAGS[name];
    if (envVar) {
      throw new SecretInputError(
        name,
        `API keys are not accepted on the command line (visible in ps, kept in shell history); set ${envVar} or let the script ask on the terminal`,
      );
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(name)) {
      throw new SecretInputError(name, token.startsWith('-') ? 'unknown flag (see --help)' : 'unexpected argument (every value follows its flag)');
    }
    let value: string | undefined;
    if (eq > 0 && token.startsWith('--')) value = token.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new SecretInputError(name, 'needs a value');
      i++;
    }
    if (value === '') throw new SecretInputError(name, 'must not be empty');
    if (name === '--platform-certificate') {
      args.platformCertificates.push(value);
      continue;
    }
    const field = FIELD_OF[name as Exclude<ValueFlag, '--platform-certificate'>];
    if (args[field] !== undefined) throw new SecretInputError(name, 'given more than once');
    (args as unknown as Record<string, string>)[field] = value;
  }
  return args;
}

/** Everything the secret is built from: file contents already read, API keys already obtained. */
export interface SecretInput {
  mchid?: string | undefined;
  appid?: string | undefined;
  serial?: string | undefined;
  /** apiclient_key.pem */
  keyPem?: string | undefined;
  /** apiclient_cert.pem (optional) */
  certPem?: string | undefined;
  /** pub_key.pem */
  wechatpayPublicKeyPem?: string | undefined;
  publicKeyId?: string | undefined;
  /** Platform certificates (certificate mode), with the file name each came from. */
  platformCertificates?: { file: string; pem: string }[] | undefined;
  apiV3Key?: string | undefined;
  /** undefined or '': no APIv2 key (the service provider). */
  apiV2Key?: string | undefined;
}

export interface BuildOptions {
  now?: Date;
  random?: (bytes: number) => Buffer;
}

export interface BuiltSecret {
  /** The plain secret object: what is printed. */
  secret: Record<string, unknown>;
  /** Things worth a look that do not stop the secret (printed on stderr). */
  warnings: string[];
}

const MCHID = /^[0-9]{1,32}$/;
const APPID = /^[A-Za-z0-9_]{1,32}$/;
/** Merchant API certificate serials are up to 20 bytes: WeChat shows them as (usually 40) upper-case hex digits. */
const SERIAL = /^[0-9A-Fa-f]{2,40}$/;
const PUBLIC_KEY_ID = /^PUB_KEY_ID_[0-9]{1,64}$/;
/** WeChat's API keys are 32 characters the merchant chose; printable ASCII without spaces catches paste mistakes. */
const API_KEY = /^[\x21-\x7e]{32}$/;
const MIN_RSA_BITS = 2048;
const DAY_MS = 24 * 3600 * 1000;

function required(value: string | undefined, flag: string, what: string): string {
  if (value === undefined || value === '') throw new SecretInputError(flag, `is required: ${what}`);
  return value;
}

/** Serial numbers compare as numbers: case and leading zeros do not matter. */
function sameSerial(a: string, b: string): boolean {
  const norm = (s: string) => s.toUpperCase().replace(/^0+(?=.)/, '');
  return norm(a) === norm(b);
}

function rsaBits(key: KeyObject): number | undefined {
  return key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
}

function checkRsa(key: KeyObject, flag: string, what: string): void {
  if (key.asymmetricKeyType !== 'rsa') throw new SecretInputError(flag, `${what} must be an RSA key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  const bits = rsaBits(key) ?? 0;
  if (bits < MIN_RSA_BITS) throw new SecretInputError(flag, `${what} is RSA-${bits}; WeChat Pay uses RSA keys of at least ${MIN_RSA_BITS} bits`);
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function merchantPrivateKey(pem: string): KeyObject {
  // Armour written with -{5} so no key header literal sits in source (the secret scanners' rule).
  if (/-{5}BEGIN ENCRYPTED PRIVATE KEY-{5}|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new SecretInputError('--key', 'the private key is encrypted; decrypt it first (openssl pkey -in … -out …) and keep that file private');
  }
  if (!/-{5}BEGIN (RSA )?PRIVATE KEY-{5}/.test(pem)) {
    throw new SecretInputError('--key', 'is not a PEM private key (expected apiclient_key.pem, a PKCS#8 "PRIVATE KEY" PEM)');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new SecretInputError('--key', 'the private key could not be parsed (is the file complete?)');
  }
  checkRsa(key, '--key', 'the merchant API key');
  return key;
}

function certificate(pem: string, flag: string, what: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new SecretInputError(flag, `is not a PEM certificate (${what})`);
  try {
    return new X509Certificate(pem);
  } catch {
    throw new SecretInputError(flag, `the certificate could not be parsed (${what})`);
  }
}

function validity(cert: X509Certificate): { from: number; to: number } {
  return { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** One fresh HMAC key for request fingerprints, under a dated id (docs/wechatpay.md, reading (e)). */
export function newFingerprintKeys(now: Date, random: (bytes: number) => Buffer): Record<string, string> {
  const kid = `fp-${now.toISOString().slice(0, 10).replaceAll('-', '')}`;
  return { [kid]: random(32).toString('base64url') };
}

/** Checks every input and builds the secret; throws `SecretInputError` naming the first bad input. */
export function buildMerchantSecret(input: SecretInput, options: BuildOptions = {}): BuiltSecret {
  const now = options.now ?? new Date();
  const random = options.random ?? randomBytes;
  const warnings: string[] = [];

  const mchid = required(input.mchid, '--mchid', 'the merchant id (商户号)');
  if (!MCHID.test(mchid)) throw new SecretInputError('--mchid', 'must be the merchant id: digits only, at most 32');

  const appid = required(input.appid, '--appid', 'the AppID the merchant transacts under (e.g. wx8888888888888888)');
  if (!APPID.test(appid)) throw new SecretInputError('--appid', 'must be an AppID: 1-32 letters and digits (e.g. wx8888888888888888)');
  if (!/^wx[0-9a-f]{16}$/.test(appid)) warnings.push(`--appid ${appid} does not look like a WeChat AppID (wx + 16 hex digits); check it`);

  const serialText = required(input.serial, '--serial', 'the merchant API certificate serial (openssl x509 -in apiclient_cert.pem -noout -serial)');
  if (!SERIAL.test(serialText)) {
    throw new SecretInputError('--serial', 'must be the merchant API certificate serial: hexadecimal digits (usually 40), as the merchant platform shows it');
  }
  const serial = serialText.toUpperCase();

  const privateKey = merchantPrivateKey(required(input.keyPem, '--key', 'apiclient_key.pem, the merchant API private key'));
  const merchantSpki = spki(createPublicKey(privateKey));

  let merchantCertificate: string | undefined;
  if (input.certPem !== undefined) {
    const cert = certificate(input.certPem, '--cert', 'apiclient_cert.pem');
    if (!spki(cert.publicKey).equals(merchantSpki)) throw new SecretInputError('--cert', 'is not the certificate of --key (apiclient_cert.pem and apiclient_key.pem must be one pair)');
    if (!sameSerial(cert.serialNumber, serial)) {
      throw new SecretInputError('--serial', `${serial} is not the serial of --cert (${cert.serialNumber.toUpperCase()})`);
    }
    const { to } = validity(cert);
    if (to < now.getTime()) throw new SecretInputError('--cert', `expired on ${day(to)}; apply for a new API certificate on the merchant platform`);
    if (to < now.getTime() + 30 * DAY_MS) warnings.push(`--cert expires on ${day(to)}: renew the API certificate soon`);
    merchantCertificate = input.certPem.trim() + '\n';
  }

  const wechatpayPublicKeys: Record<string, string> = {};
  if (input.wechatpayPublicKeyPem !== undefined || input.publicKeyId !== undefined) {
    const id = required(input.publicKeyId, '--public-key-id', 'the id of the WeChat Pay public key (PUB_KEY_ID_…), shown beside it on the merchant platform');
    if (!PUBLIC_KEY_ID.test(id)) throw new SecretInputError('--public-key-id', 'must be PUB_KEY_ID_ followed by digits, exactly as the merchant platform shows it');
    const pem = required(input.wechatpayPublicKeyPem, '--wechatpay-public-key', 'pub_key.pem, the WeChat Pay public key downloaded with its PUB_KEY_ID_');
    if (pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new SecretInputError('--wechatpay-public-key', 'is a certificate; pass platform certificates with --platform-certificate');
    }
    if (/PRIVATE KEY-----/.test(pem)) throw new SecretInputError('--wechatpay-public-key', 'is a private key; WeChat Pay gives you its public key (pub_key.pem)');
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new SecretInputError('--wechatpay-public-key', 'is not a PEM public key (expected pub_key.pem: -----BEGIN PUBLIC KEY-----)');
    }
    checkRsa(key, '--wechatpay-public-key', 'the WeChat Pay public key');
    if (spki(key).equals(merchantSpki)) {
      throw new SecretInputError('--wechatpay-public-key', "is the public key of your own --key; use WeChat Pay's public key (pub_key.pem) from the merchant platform");
    }
    wechatpayPublicKeys[id] = key.export({ type: 'spki', format: 'pem' }).toString();
  }

  for (const { file, pem } of input.platformCertificates ?? []) {
    const flag = `--platform-certificate ${file}`;
    const cert = certificate(pem, flag, 'a WeChat Pay platform certificate');
    checkRsa(cert.publicKey, flag, 'the platform certificate key');
    if (spki(cert.publicKey).equals(merchantSpki)) throw new SecretInputError(flag, 'is your own merchant certificate, not a WeChat Pay platform certificate');
    const { from, to } = validity(cert);
    // An expired certificate can verify nothing WeChat sends now, and must never encrypt (docs/wechatpay.md, reading (d)).
    if (to < now.getTime()) throw new SecretInputError(flag, `expired on ${day(to)}; download the current platform certificates`);
    if (from > now.getTime()) warnings.push(`${flag} becomes valid only on ${day(from)}`);
    // As WeChat (and wechatpay-java's BigInteger.toString(16)) writes it in Wechatpay-Serial: no leading zeros.
    const id = cert.serialNumber.toUpperCase().replace(/^0+(?=.)/, '');
    if (wechatpayPublicKeys[id] !== undefined) throw new SecretInputError(flag, `certificate ${id} is given twice`);
    wechatpayPublicKeys[id] = pem.trim() + '\n';
  }
  if (Object.keys(wechatpayPublicKeys).length === 0) {
    throw new SecretInputError(
      '--wechatpay-public-key',
      'is required (with --public-key-id): WeChat Pay signs its answers and notifications with it; merchants still on platform certificates pass --platform-certificate instead',
    );
  }

  const apiV3Key = required(input.apiV3Key, API_V3_KEY_ENV, 'the APIv3 key set on the merchant platform');
  checkApiKey(apiV3Key, API_V3_KEY_ENV, 'the APIv3 key');
  const apiV2Key = input.apiV2Key === undefined || input.apiV2Key === '' ? undefined : input.apiV2Key;
  if (apiV2Key !== undefined) {
    checkApiKey(apiV2Key, API_V2_KEY_ENV, 'the APIv2 key');
    if (apiV2Key === apiV3Key) warnings.push('the APIv2 key equals the APIv3 key; WeChat treats them as two keys, check that both are right');
  }

  const secret: Record<string, unknown> = {
    mchid,
    appid,
    merchantSerialNo: serial,
    merchantPrivateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    apiV3Key,
    ...(apiV2Key === undefined ? {} : { apiV2Key }),
    ...(merchantCertificate === undefined ? {} : { merchantCertificate }),
    wechatpayPublicKeys,
    fingerprintKeys: newFingerprintKeys(now, random),
  };
  // The very validator every secrets loader runs: what is printed is what the functions accept.
  validateMerchantSecret(secret, 'npm run secret');
  return { secret, warnings };
}

function checkApiKey(value: string, flag: string, what: string): void {
  if (API_KEY.test(value)) return;
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes !== 32) {
    const hint = /\s$/.test(value) ? ' (a trailing newline or space?)' : '';
    throw new SecretInputError(flag, `${what} must be exactly 32 bytes, got ${bytes}${hint}`);
  }
  throw new SecretInputError(flag, `${what} must be 32 printable ASCII characters without spaces, as set on the merchant platform`);
}

export interface SecretIo {
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => Promise<string>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Asks on the terminal without echo; undefined when there is no terminal to ask on. */
  prompt?: ((question: string) => Promise<string>) | undefined;
  /** Whether stdout is a terminal (nothing can then be corrupted by npm's banner). */
  stdoutIsTerminal?: boolean;
  now?: Date;
  random?: (bytes: number) => Buffer;
}

async function readInput(io: SecretIo, flag: string, path: string): Promise<string> {
  try {
    return await io.readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SecretInputError(flag, `cannot read ${path}${code ? ` (${code})` : ''}`);
  }
}

async function apiKey(io: SecretIo, envVar: string, question: string, optional: boolean): Promise<string | undefined> {
  const fromEnv = io.env[envVar];
  if (fromEnv !== undefined) return fromEnv;
  if (!io.prompt) {
    if (optional) return undefined;
    throw new SecretInputError(envVar, 'is not set, and stdin is not a terminal to ask on');
  }
  return io.prompt(question);
}

/** The whole command; returns the exit code. Only the secret goes to stdout. */
export async function runSecret(argv: readonly string[], io: SecretIo): Promise<number> {
  try {
    const args = parseSecretArgs(argv);
    if (args.help) {
      io.stderr(USAGE);
      return 0;
    }
    // `npm run secret` (without -s) prints its "> wechatpay-serverless@… secret" banner on stdout, in front of the
    // JSON: Secrets Manager would store it and every function would then fail to parse the secret.
    if (io.env['npm_lifecycle_event'] === 'secret' && io.env['npm_config_loglevel'] !== 'silent' && io.stdoutIsTerminal !== true) {
      throw new SecretInputError('npm run', 'use `npm run -s secret -- …`: without -s, npm prints its own banner into stdout, in front of the secret');
    }
    const input: SecretInput = {
      mchid: args.mchid,
      appid: args.appid,
      serial: args.serial,
      publicKeyId: args.publicKeyId,
      keyPem: args.key === undefined ? undefined : await readInput(io, '--key', args.key),
      certPem: args.cert === undefined ? undefined : await readInput(io, '--cert', args.cert),
      wechatpayPublicKeyPem: args.wechatpayPublicKey === undefined ? undefined : await readInput(io, '--wechatpay-public-key', args.wechatpayPublicKey),
      platformCertificates: await Promise.all(
        args.platformCertificates.map(async (file) => ({ file, pem: await readInput(io, `--platform-certificate ${file}`, file) })),
      ),
    };
    // Check everything that needs no key first, so a typo is reported before anyone types a key.
    buildMerchantSecret({ ...input, apiV3Key: 'x'.repeat(32) }, { now: io.now ?? new Date() });
    input.apiV3Key = await apiKey(io, API_V3_KEY_ENV, 'APIv3 key (32 characters, not shown): ', false);
    input.apiV2Key = await apiKey(io, API_V2_KEY_ENV, 'APIv2 key (direct merchant: contract orders and their refunds; Enter for none): ', true);
    const built = buildMerchantSecret(input, { ...(io.now ? { now: io.now } : {}), ...(io.random ? { random: io.random } : {}) });
    for (const warning of built.warnings) io.stderr(`! ${warning}\n`);
    if (built.secret['apiV2Key'] === undefined) io.stderr('! no APIv2 key: right for the service provider; the direct merchant needs one for contract orders\n');
    io.stdout(`${JSON.stringify(built.secret)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof SecretInputError) {
      io.stderr(`✗ ${error.message}\n`);
      return 2;
    }
    // validateMerchantSecret's messages name fields, never values.
    io.stderr(`✗ ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** Reads a line from the terminal without echoing it (raw mode); Ctrl-C aborts. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolvePrompt, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolvePrompt(value);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new SecretInputError('prompt', 'cancelled'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  process.exitCode = await runSecret(process.argv.slice(2), {
    env: process.env,
    readFile: (path) => readFile(path, 'utf8'),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    prompt: process.stdin.isTTY ? promptHidden : undefined,
    stdoutIsTerminal: process.stdout.isTTY === true,
  });
}
