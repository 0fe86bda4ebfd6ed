import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import {
  API_V2_KEY_ENV,
  API_V3_KEY_ENV,
  buildMerchantSecret,
  parseSecretArgs,
  runSecret,
  SecretInputError,
  type SecretInput,
  type SecretIo,
} from '../../../scripts/secret';
import { parseMerchantSecret, validateMerchantSecret } from '../../../shared/secrets';

// Every key is made here, at run time: no key material is checked in for these tests.
function rsa(bits = 2048) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

const merchant = rsa();
const wechatpay = rsa();
const NOW = new Date('2026-12-03T08:00:00Z');
const DAY = 24 * 3600 * 1000;
const SERIAL = '3775B6A45ACD588826D15E583A95F5DD2E0A9A1F';
const PUB_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000';
const API_V3_KEY = 'V3keyV3keyV3keyV3keyV3keyV3key01';
const API_V2_KEY = 'V2keyV2keyV2keyV2keyV2keyV2key02';

/** An X.509 certificate for `publicKeyPem`, signed by `signerPem`, with the serial and validity asked for. */
function certificate(publicKeyPem: string, signerPem: string, serialHex: string, from: Date, to: Date): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = `00${serialHex}`;
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
  const name = [{ name: 'commonName', value: 'test' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.sign(forge.pki.privateKeyFromPem(signerPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

const ca = rsa();
const validFor = (days: number) => [new Date(NOW.getTime() - DAY), new Date(NOW.getTime() + days * DAY)] as const;
const merchantCertificate = certificate(merchant.publicKeyPem, ca.privateKeyPem, SERIAL, ...validFor(365));

function input(overrides: Partial<SecretInput> = {}): SecretInput {
  return {
    mchid: '1900000001',
    appid: 'wx8888888888888888',
    serial: SERIAL,
    keyPem: merchant.privateKeyPem,
    wechatpayPublicKeyPem: wechatpay.publicKeyPem,
    publicKeyId: PUB_KEY_ID,
    apiV3Key: API_V3_KEY,
    apiV2Key: API_V2_KEY,
    ...overrides,
  };
}

const build = (overrides: Partial<SecretInput> = {}) => buildMerchantSecret(input(overrides), { now: NOW });

/** The flag a bad input is refused for. */
function refusedFlag(overrides: Partial<SecretInput>): string {
  try {
    build(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(SecretInputError);
    const message = (error as Error).message;
    // No key material in any message.
    for (const secret of [API_V3_KEY, API_V2_KEY, merchant.privateKeyPem.split('\n')[3]!]) expect(message).not.toContain(secret);
    return (error as SecretInputError).flag;
  }
  throw new Error('expected a refusal');
}

describe('npm run secret: the secret it builds', () => {
  it('passes validateMerchantSecret, the validator every loader runs, and parses back from its JSON', () => {
    const { secret, warnings } = build();
    expect(() => validateMerchantSecret(secret, 'test')).not.toThrow();
    const loaded = parseMerchantSecret(JSON.stringify(secret), 'test');
    expect(loaded.mchid).toBe('1900000001');
    expect(loaded.merchantSerialNo).toBe(SERIAL);
    expect(Object.keys(loaded.wechatpayPublicKeys)).toEqual([PUB_KEY_ID]);
    expect(loaded.apiV3Key).toBe(API_V3_KEY);
    expect(loaded.apiV2Key).toBe(API_V2_KEY);
    expect(warnings).toEqual([]);
  });

  it('generates one fresh fingerprint key (a dated kid → at least 32 random bytes), different every run', () => {
    const first = build().secret['fingerprintKeys'] as Record<string, string>;
    const second = build().secret['fingerprintKeys'] as Record<string, string>;
    expect(Object.keys(first)).toEqual(['fp-20261203']);
    const key = first['fp-20261203']!;
    expect(Buffer.from(key, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(Buffer.byteLength(key)).toBeGreaterThanOrEqual(32);
    expect(second['fp-20261203']).not.toBe(key);
  });

  it('writes the serial in upper case, the private key as PKCS#8, and leaves the APIv2 key out when there is none', () => {
    const pkcs1 = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const { secret } = build({ serial: SERIAL.toLowerCase(), keyPem: pkcs1.privateKey, apiV2Key: '' });
    expect(secret['merchantSerialNo']).toBe(SERIAL);
    expect(secret['merchantPrivateKey']).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(secret).not.toHaveProperty('apiV2Key');
  });

  it('takes the API certificate when it is the one of --key with the same serial, and warns a month before it expires', () => {
    expect(build({ certPem: merchantCertificate }).secret['merchantCertificate']).toBe(merchantCertificate.trim() + '\n');
    const soon = certificate(merchant.publicKeyPem, ca.privateKeyPem, SERIAL, ...validFor(10));
    expect(build({ certPem: soon }).warnings.join()).toMatch(/--cert expires on/);
  });

  it('takes platform certificates (certificate mode) keyed by their serial, beside or instead of the public key', () => {
    const platform = rsa();
    const cert = certificate(platform.publicKeyPem, ca.privateKeyPem, '5157F09EFDC096DE15EBE81A47057A7232F1B8E1', ...validFor(365));
    const both = build({ platformCertificates: [{ file: 'wechatpay_cert.pem', pem: cert }] }).secret['wechatpayPublicKeys'];
    expect(Object.keys(both as object)).toEqual([PUB_KEY_ID, '5157F09EFDC096DE15EBE81A47057A7232F1B8E1']);
    const only = build({ wechatpayPublicKeyPem: undefined, publicKeyId: undefined, platformCertificates: [{ file: 'c.pem', pem: cert }] });
    expect(Object.keys(only.secret['wechatpayPublicKeys'] as object)).toEqual(['5157F09EFDC096DE15EBE81A47057A7232F1B8E1']);
  });
});

describe('npm run secret: each input is checked, and the error names it', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const weak = rsa(1024);
  const encrypted = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  const other = rsa();

  const cases: [string, string, Partial<SecretInput>][] = [
    ['mchid missing', '--mchid', { mchid: undefined }],
    ['mchid not digits', '--mchid', { mchid: '19000000a1' }],
    ['mchid too long', '--mchid', { mchid: '1'.repeat(33) }],
    ['appid missing', '--appid', { appid: undefined }],
    ['appid with a space', '--appid', { appid: 'wx8888 888' }],
    ['serial missing', '--serial', { serial: undefined }],
    ['serial not hex', '--serial', { serial: '3775B6A45ACD588826D15E583A95F5DD2EXAMPLE' }],
    ['serial too long', '--serial', { serial: 'A'.repeat(42) }],
    ['key missing', '--key', { keyPem: undefined }],
    ['key not a PEM private key', '--key', { keyPem: 'hello' }],
    ['key truncated', '--key', { keyPem: merchant.privateKeyPem.slice(0, 200) + '\n-----END PRIVATE KEY-----\n' }],
    ['key encrypted', '--key', { keyPem: encrypted }],
    ['key not RSA', '--key', { keyPem: ec.privateKey }],
    ['key RSA-1024', '--key', { keyPem: weak.privateKeyPem }],
    ['cert of another key', '--cert', { certPem: certificate(other.publicKeyPem, ca.privateKeyPem, SERIAL, ...validFor(365)) }],
    ['cert not a certificate', '--cert', { certPem: merchant.publicKeyPem }],
    ['cert expired', '--cert', { certPem: certificate(merchant.publicKeyPem, ca.privateKeyPem, SERIAL, new Date('2020-01-01'), new Date('2021-01-01')) }],
    ['serial not the certificate serial', '--serial', { certPem: certificate(merchant.publicKeyPem, ca.privateKeyPem, 'ABCDEF', ...validFor(365)) }],
    ['no WeChat Pay key at all', '--wechatpay-public-key', { wechatpayPublicKeyPem: undefined, publicKeyId: undefined }],
    ['public key without its id', '--public-key-id', { publicKeyId: undefined }],
    ['id without its public key', '--wechatpay-public-key', { wechatpayPublicKeyPem: undefined }],
    ['public key id not PUB_KEY_ID_digits', '--public-key-id', { publicKeyId: 'PUB_KEY_ID_01142321349124100000000000XX' }],
    ['public key id is a certificate serial', '--public-key-id', { publicKeyId: SERIAL }],
    ['public key unparsable', '--wechatpay-public-key', { wechatpayPublicKeyPem: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n' }],
    ['public key is a certificate', '--wechatpay-public-key', { wechatpayPublicKeyPem: merchantCertificate }],
    ['public key is a private key', '--wechatpay-public-key', { wechatpayPublicKeyPem: wechatpay.privateKeyPem }],
    ['public key is our own', '--wechatpay-public-key', { wechatpayPublicKeyPem: merchant.publicKeyPem }],
    ['public key not RSA', '--wechatpay-public-key', { wechatpayPublicKeyPem: ec.publicKey }],
    ['public key RSA-1024', '--wechatpay-public-key', { wechatpayPublicKeyPem: weak.publicKeyPem }],
    ['APIv3 key missing', API_V3_KEY_ENV, { apiV3Key: undefined }],
    ['APIv3 key 31 bytes', API_V3_KEY_ENV, { apiV3Key: API_V3_KEY.slice(1) }],
    ['APIv3 key with a trailing newline', API_V3_KEY_ENV, { apiV3Key: API_V3_KEY + '\n' }],
    ['APIv3 key 32 bytes but not ASCII', API_V3_KEY_ENV, { apiV3Key: '密钥' + 'k'.repeat(26) }],
    ['APIv3 key with a space', API_V3_KEY_ENV, { apiV3Key: API_V3_KEY.slice(1) + ' ' }],
    ['APIv2 key 16 bytes', API_V2_KEY_ENV, { apiV2Key: API_V2_KEY.slice(16) }],
  ];
  it.each(cases)('%s → %s', (_what, flag, overrides) => {
    expect(refusedFlag(overrides)).toBe(flag);
  });

  it('refuses expired platform certificates (they can verify nothing and must never encrypt), naming the file', () => {
    const platform = rsa();
    const expired = certificate(platform.publicKeyPem, ca.privateKeyPem, '5157F09E', new Date('2019-01-01'), new Date('2024-01-01'));
    expect(refusedFlag({ platformCertificates: [{ file: 'old.pem', pem: expired }] })).toBe('--platform-certificate old.pem');
    expect(refusedFlag({ platformCertificates: [{ file: 'mine.pem', pem: merchantCertificate }] })).toBe('--platform-certificate mine.pem');
  });
});

describe('npm run secret: the command line', () => {
  it('reads --flag value and --flag=value; repeats only --platform-certificate', () => {
    expect(parseSecretArgs(['--mchid', '1', '--appid=wx1', '--platform-certificate', 'a.pem', '--platform-certificate=b.pem'])).toMatchObject({
      mchid: '1',
      appid: 'wx1',
      platformCertificates: ['a.pem', 'b.pem'],
    });
  });

  const argvCases: [string, string[], string][] = [
    ['an unknown flag', ['--mchid', '1', '--secret-id', 'x'], '--secret-id'],
    ['a flag twice', ['--mchid', '1', '--mchid', '2'], '--mchid'],
    ['a flag without its value', ['--key'], '--key'],
    ['a flag followed by another flag', ['--key', '--cert', 'c.pem'], '--key'],
    ['a stray value', ['1900000001'], '1900000001'],
    ['an empty value', ['--serial='], '--serial'],
    ['the APIv3 key as an argument', ['--api-v3-key', API_V3_KEY], '--api-v3-key'],
    ['the APIv2 key as an argument', ['--api-v2-key=' + API_V2_KEY], '--api-v2-key'],
  ];
  it.each(argvCases)('refuses %s, naming it', (_what, argv, flag) => {
    let caught: unknown;
    try {
      parseSecretArgs(argv);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SecretInputError);
    expect((caught as SecretInputError).flag).toBe(flag);
    expect((caught as Error).message).not.toContain(API_V3_KEY);
    expect((caught as Error).message).not.toContain(API_V2_KEY);
  });
});

describe('npm run secret: the whole run', () => {
  const files: Record<string, string> = {
    'apiclient_key.pem': merchant.privateKeyPem,
    'apiclient_cert.pem': merchantCertificate,
    'pub_key.pem': wechatpay.publicKeyPem,
  };
  const argv = [
    '--mchid', '1900000001', '--appid', 'wx8888888888888888', '--serial', SERIAL,
    '--key', 'apiclient_key.pem', '--cert', 'apiclient_cert.pem',
    '--wechatpay-public-key', 'pub_key.pem', '--public-key-id', PUB_KEY_ID,
  ];

  function io(env: Record<string, string | undefined>, prompt?: (question: string) => Promise<string>) {
    const out: string[] = [];
    const err: string[] = [];
    const asked: string[] = [];
    const value: SecretIo = {
      env,
      readFile: async (path) => {
        const text = files[path];
        if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
        return text;
      },
      stdout: (text) => out.push(text),
      stderr: (text) => err.push(text),
      prompt: prompt
        ? async (question) => {
            asked.push(question);
            return prompt(question);
          }
        : undefined,
      now: NOW,
    };
    return { value, out, err, asked };
  }

  it('prints only the secret JSON on stdout, with the API keys from the environment', async () => {
    const run = io({ [API_V3_KEY_ENV]: API_V3_KEY, [API_V2_KEY_ENV]: API_V2_KEY });
    expect(await runSecret(argv, run.value)).toBe(0);
    expect(run.out).toHaveLength(1);
    const loaded = parseMerchantSecret(run.out[0]!, 'stdout');
    expect(loaded.merchantCertificate).toBe(merchantCertificate.trim() + '\n');
    expect(loaded.apiV2Key).toBe(API_V2_KEY);
    expect(run.err.join('')).not.toContain(API_V3_KEY);
  });

  it('asks for the keys on the terminal when the environment has none; an empty APIv2 answer leaves it out', async () => {
    const run = io({}, async (question) => (question.startsWith('APIv3') ? API_V3_KEY : ''));
    expect(await runSecret(argv, run.value)).toBe(0);
    expect(run.asked.map((q) => q.slice(0, 5))).toEqual(['APIv3', 'APIv2']);
    const loaded = parseMerchantSecret(run.out[0]!, 'stdout');
    expect(loaded.apiV3Key).toBe(API_V3_KEY);
    expect(loaded.apiV2Key).toBeUndefined();
    expect(run.err.join('')).toMatch(/no APIv2 key/);
  });

  it('checks the files before asking for any key, so a typo costs no typing', async () => {
    const run = io({}, async () => API_V3_KEY);
    expect(await runSecret([...argv.slice(0, -1), 'PUB_KEY_ID_x'], run.value)).toBe(2);
    expect(run.asked).toEqual([]);
    expect(run.out).toEqual([]);
    expect(run.err.join('')).toMatch(/^✗ --public-key-id:/);
  });

  it('without a terminal and without WECHATPAY_API_V3_KEY, fails naming the variable; nothing on stdout', async () => {
    const run = io({});
    expect(await runSecret(argv, run.value)).toBe(2);
    expect(run.out).toEqual([]);
    expect(run.err.join('')).toMatch(/✗ WECHATPAY_API_V3_KEY: is not set/);
  });

  it('an unreadable file is named with its flag', async () => {
    const run = io({ [API_V3_KEY_ENV]: API_V3_KEY });
    expect(await runSecret(['--key', 'missing.pem'], run.value)).toBe(2);
    expect(run.err.join('')).toMatch(/✗ --key: cannot read missing\.pem \(ENOENT\)/);
  });

  it('refuses `npm run secret` without -s when stdout is not a terminal (npm would print its banner into the secret)', async () => {
    const env = { [API_V3_KEY_ENV]: API_V3_KEY, npm_lifecycle_event: 'secret' };
    const piped = io(env);
    expect(await runSecret(argv, piped.value)).toBe(2);
    expect(piped.out).toEqual([]);
    expect(piped.err.join('')).toMatch(/npm run -s secret/);
    const silent = io({ ...env, npm_config_loglevel: 'silent' });
    expect(await runSecret(argv, silent.value)).toBe(0);
  });
});
