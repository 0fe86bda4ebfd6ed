/**
 * Protocol benchmarks: shared/wechatpay ("ours") beside node:crypto / fast-xml-parser doing the same
 * work by hand ("raw"), wechatpay-axios-plugin ("peer") where it has the operation, and wechatpay-node-v3
 * ("node-v3", v3 only) where it has it. Every variant gets the same inputs and the same pre-parsed keys.
 * node-v3 is a speed comparison only: its decipher_gcm never calls final(), so it skips the GCM tag check.
 */
import {
  constants,
  createDecipheriv,
  createHash,
  createHmac,
  generateKeyPairSync,
  publicEncrypt,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import axiosPlugin from 'wechatpay-axios-plugin';
import type * as AxiosPluginModule from 'wechatpay-axios-plugin';
import NodeV3Pay from 'wechatpay-node-v3';
import {
  buildAuthorization,
  buildVerifierKeys,
  buildXml,
  decryptAeadAes256Gcm,
  encryptAeadAes256Gcm,
  encryptSensitive,
  openNotification,
  parseXml,
  signV2,
  verifyV2,
  verifyWechatPaySignature,
} from '../shared/wechatpay/index';
import type { BenchGroup, BenchSuite } from './harness';

const peer = axiosPlugin as unknown as typeof AxiosPluginModule;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const wechat = generateKeyPairSync('rsa', { modulusLength: 2048 });
const WECHAT_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000';
const verifierKeys = buildVerifierKeys({ [WECHAT_KEY_ID]: wechat.publicKey.export({ type: 'spki', format: 'pem' }).toString() });
const rawKeys = new Map([[WECHAT_KEY_ID, wechat.publicKey]]);

const MCHID = '1900000001';
const SERIAL_NO = '3775B6A45ACD588826D15E583A95F5DD2EXAMPLE';
const PATH = '/v3/pay/transactions/h5';
const TIMESTAMP = 1_700_000_000;
const NONCE = '593BEC0C930BF1AFEB40B4A08C8FB242';
const now = () => TIMESTAMP * 1000;
const REQUEST_BODY = JSON.stringify({
  appid: 'wx8888888888888888',
  mchid: MCHID,
  description: 'Image形象店-深圳腾大-QQ公仔',
  out_trade_no: '1217752501201407033233368018',
  notify_url: 'https://www.weixin.qq.com/wxpay/pay.php',
  amount: { total: 100, currency: 'CNY' },
  scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'Wap' } },
});

const RESPONSE_BODY = '{"h5_url":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2916263004719461949c84457c735b0000&package=2150917749"}';
const responseSignature = sign('sha256', Buffer.from(`${TIMESTAMP}\n${NONCE}\n${RESPONSE_BODY}\n`), wechat.privateKey).toString('base64');
const RESPONSE_HEADERS: Record<string, string> = {
  'wechatpay-timestamp': String(TIMESTAMP),
  'wechatpay-nonce': NONCE,
  'wechatpay-signature': responseSignature,
  'wechatpay-serial': WECHAT_KEY_ID,
  'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
  'request-id': '08F78BB5AF0610D302A2B7C6A0F6B6B4',
  'content-type': 'application/json',
};

const APIV3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
const APIV3_KEY_BYTES = Buffer.from(APIV3_KEY);
const GCM_NONCE = 'fdasflkja484';
const GCM_AAD = 'transaction';
const GCM_AAD_BYTES = Buffer.from(GCM_AAD);
// A ~1 KB TRANSACTION.SUCCESS resource.
const RESOURCE_PLAINTEXT = JSON.stringify({
  appid: 'wx8888888888888888',
  mchid: MCHID,
  out_trade_no: '1217752501201407033233368018',
  transaction_id: '4200000000000000000000000001',
  trade_type: 'MWEB',
  trade_state: 'SUCCESS',
  trade_state_desc: '支付成功',
  bank_type: 'CMC',
  attach: 'x'.repeat(300),
  success_time: '2018-06-08T10:34:56+08:00',
  payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
  promotion_detail: [{ coupon_id: '109519', name: '单品惠-6', scope: 'SINGLE', type: 'CASH', amount: 100, stock_id: '931386', wechatpay_contribute: 0, merchant_contribute: 0, other_contribute: 0, currency: 'CNY', goods_detail: [{ goods_id: 'M1006', quantity: 1, unit_price: 100, discount_amount: 1, goods_remark: '商品备注信息' }] }],
}).padEnd(1024, ' ');
const RESOURCE = { ciphertext: encryptAeadAes256Gcm(RESOURCE_PLAINTEXT, GCM_NONCE, GCM_AAD, APIV3_KEY), nonce: GCM_NONCE, associatedData: GCM_AAD };

// A whole TRANSACTION.SUCCESS notification as WeChat sends it: envelope + encrypted resource, signed.
const NOTIFICATION_BODY = JSON.stringify({
  id: 'EV-2018022511223320873',
  create_time: '2015-05-20T13:29:35+08:00',
  resource_type: 'encrypt-resource',
  event_type: 'TRANSACTION.SUCCESS',
  summary: '支付成功',
  resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: RESOURCE.ciphertext, associated_data: GCM_AAD, nonce: GCM_NONCE },
});
const NOTIFICATION_HEADERS: Record<string, string> = {
  ...RESPONSE_HEADERS,
  'wechatpay-signature': sign('sha256', Buffer.from(`${TIMESTAMP}\n${NONCE}\n${NOTIFICATION_BODY}\n`), wechat.privateKey).toString('base64'),
};

const SENSITIVE = '110101199003077777';
const encryptionKey = { id: WECHAT_KEY_ID, publicKey: wechat.publicKey };

const APIV2_KEY = '192006250b4c09247ec02edce69f6a2d';
const V2_PARAMS: Record<string, string> = {
  appid: 'wx8888888888888888',
  mch_id: '1900000001',
  contract_mchid: '1900000001',
  contract_appid: 'wx8888888888888888',
  out_trade_no: 'CO20250101000001',
  nonce_str: 'ibuaiVcKdpRxkhJA',
  body: '会员自动续费-月卡',
  notify_url: 'https://example.com/notify/contract-order/payment',
  total_fee: '100',
  spbill_create_ip: '203.0.113.7',
  trade_type: 'MWEB',
  plan_id: '12535',
  contract_code: 'C20250101000001',
  request_serial: '1000',
  contract_display_account: '张三',
  contract_notify_url: 'https://example.com/notify/contract-order/contract',
};
const V2_SIGNED_MD5 = { ...V2_PARAMS, sign: signV2(V2_PARAMS, APIV2_KEY) };

// ---------------------------------------------------------------------------------------------
// Raw node:crypto equivalents: the same work, written inline without our abstractions
// ---------------------------------------------------------------------------------------------

function rawAuthorization(): string {
  const message = `POST\n${PATH}\n${TIMESTAMP}\n${NONCE}\n${REQUEST_BODY}\n`;
  const signature = sign('sha256', Buffer.from(message), merchant.privateKey).toString('base64');
  return `WECHATPAY2-SHA256-RSA2048 mchid="${MCHID}",nonce_str="${NONCE}",timestamp="${TIMESTAMP}",serial_no="${SERIAL_NO}",signature="${signature}"`;
}

function rawVerify(headers: Record<string, string>, body: string): boolean {
  const timestamp = headers['wechatpay-timestamp'] as string;
  const nonce = headers['wechatpay-nonce'] as string;
  const signature = headers['wechatpay-signature'] as string;
  const serial = headers['wechatpay-serial'] as string;
  if (Math.abs(Math.floor(now() / 1000) - Number(timestamp)) >= 300) return false;
  const key = rawKeys.get(serial);
  if (key === undefined || signature.startsWith('WECHATPAY/SIGNTEST/')) return false;
  return verify('sha256', Buffer.from(`${timestamp}\n${nonce}\n${body}\n`), key, Buffer.from(signature, 'base64'));
}

function rawGcmDecrypt(): Buffer {
  const sealed = Buffer.from(RESOURCE.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', APIV3_KEY_BYTES, Buffer.from(GCM_NONCE));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  decipher.setAAD(GCM_AAD_BYTES);
  const out = decipher.update(sealed.subarray(0, sealed.length - 16));
  decipher.final();
  return out;
}

function rawOpenNotification(headers: Record<string, string>, body: string): unknown {
  if (!rawVerify(headers, body)) throw new Error('signature');
  const envelope = JSON.parse(body) as { resource: { ciphertext: string; nonce: string; associated_data: string } };
  const sealed = Buffer.from(envelope.resource.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', APIV3_KEY_BYTES, Buffer.from(envelope.resource.nonce));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  decipher.setAAD(Buffer.from(envelope.resource.associated_data));
  const out = decipher.update(sealed.subarray(0, sealed.length - 16));
  decipher.final();
  return { ...envelope, resource: JSON.parse(out.toString('utf8')) as unknown };
}

function rawOaepEncrypt(): string {
  return publicEncrypt({ key: wechat.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(SENSITIVE)).toString('base64');
}

function rawV2String(params: Record<string, string>): string {
  return `${Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&')}&key=${APIV2_KEY}`;
}

function rawV2Md5(params: Record<string, string>): string {
  return createHash('md5').update(rawV2String(params)).digest('hex').toUpperCase();
}

function rawV2Hmac(params: Record<string, string>): string {
  return createHmac('sha256', APIV2_KEY).update(rawV2String(params)).digest('hex').toUpperCase();
}

function rawV2Verify(params: Record<string, string>): boolean {
  const expected = Buffer.from(rawV2Md5(params));
  const actual = Buffer.from(params['sign'] as string);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const rawXmlParser = new XMLParser({ parseTagValue: false, processEntities: false, ignoreDeclaration: true, trimValues: true });

function rawXmlRoundTrip(params: Record<string, string>): unknown {
  let xml = '<xml>';
  for (const [k, v] of Object.entries(params)) xml += `<${k}><![CDATA[${v}]]></${k}>`;
  xml += '</xml>';
  // validate=true: a careful direct user also checks well-formedness.
  return (rawXmlParser.parse(xml, true) as { xml: unknown }).xml;
}

// wechatpay-node-v3: one Pay instance, the WeChat Pay key pre-registered (as its certificate cache would hold it),
// so verifySign never goes to the network; its async verifySign does all its work before the first await.
const nodeV3 = new NodeV3Pay({
  appid: 'wx8888888888888888',
  mchid: MCHID,
  serial_no: SERIAL_NO,
  publicKey: Buffer.from(wechat.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  // Typed as Buffer, but it only hands the key to node:crypto: give it the same pre-parsed KeyObject as everyone.
  privateKey: merchant.privateKey as unknown as Buffer,
  key: APIV3_KEY,
});
(NodeV3Pay as unknown as { certificates: Record<string, unknown> }).certificates[WECHAT_KEY_ID] = wechat.publicKey;
const nodeV3Authorization = () =>
  nodeV3.getAuthorization(NONCE, String(TIMESTAMP), nodeV3.getSignature('POST', NONCE, String(TIMESTAMP), PATH, REQUEST_BODY));
const nodeV3Verify = (headers: Record<string, string>, body: string) =>
  nodeV3.verifySign({
    timestamp: headers['wechatpay-timestamp'] as string,
    nonce: headers['wechatpay-nonce'] as string,
    body,
    serial: headers['wechatpay-serial'] as string,
    signature: headers['wechatpay-signature'] as string,
  });
const nodeV3Open = (headers: Record<string, string>, body: string) => {
  // The library leaves the window check and JSON handling to the caller; this is the least a caller must add.
  if (Math.abs(Math.floor(now() / 1000) - Number(headers['wechatpay-timestamp'])) >= 300) throw new Error('stale');
  void nodeV3Verify(headers, body);
  const envelope = JSON.parse(body) as { resource: { ciphertext: string; nonce: string; associated_data: string } };
  return { ...envelope, resource: nodeV3.decipher_gcm(envelope.resource.ciphertext, envelope.resource.associated_data, envelope.resource.nonce) };
};
const oursOpen = () => openNotification({ headers: NOTIFICATION_HEADERS, body: NOTIFICATION_BODY, keys: verifierKeys, apiV3Key: APIV3_KEY, now });

// Sanity: every variant must produce the same answer before it is timed.
function assertSame(name: string, a: unknown, b: unknown): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`bench fixture mismatch in ${name}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

const oursAuthorization = () =>
  buildAuthorization({ mchid: MCHID, serialNo: SERIAL_NO, privateKey: merchant.privateKey, method: 'POST', url: PATH, body: REQUEST_BODY, timestamp: TIMESTAMP, nonce: NONCE });
assertSame('v3 sign', oursAuthorization(), rawAuthorization());
assertSame('v3 sign node-v3', nodeV3Authorization(), rawAuthorization());
assertSame('v3 verify', rawVerify(RESPONSE_HEADERS, RESPONSE_BODY), true);
assertSame('v3 verify node-v3', await nodeV3Verify(RESPONSE_HEADERS, RESPONSE_BODY), true);
assertSame('gcm node-v3', nodeV3.decipher_gcm(RESOURCE.ciphertext, GCM_AAD, GCM_NONCE), JSON.parse(RESOURCE_PLAINTEXT));
assertSame('open', oursOpen().resource, (rawOpenNotification(NOTIFICATION_HEADERS, NOTIFICATION_BODY) as { resource: unknown }).resource);
assertSame('open node-v3', nodeV3Open(NOTIFICATION_HEADERS, NOTIFICATION_BODY).resource, oursOpen().resource);
assertSame('gcm', decryptAeadAes256Gcm(RESOURCE, APIV3_KEY).toString(), rawGcmDecrypt().toString());
assertSame('v2 md5', signV2(V2_PARAMS, APIV2_KEY), rawV2Md5(V2_PARAMS));
assertSame('v2 md5 peer', peer.Hash.sign('MD5', V2_PARAMS, APIV2_KEY), rawV2Md5(V2_PARAMS));
assertSame('v2 hmac', signV2(V2_PARAMS, APIV2_KEY, 'HMAC-SHA256'), rawV2Hmac(V2_PARAMS));
assertSame('v2 verify', rawV2Verify(V2_SIGNED_MD5), true);
assertSame('xml', parseXml(buildXml(V2_PARAMS)), rawXmlRoundTrip(V2_PARAMS));

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

const groups: BenchGroup[] = [
  {
    name: 'v3 sign (message + RSA-2048 sign + header)',
    target: 0.95,
    variants: [
      { label: 'ours', run: oursAuthorization },
      { label: 'raw', run: rawAuthorization },
      {
        label: 'peer',
        run: () =>
          peer.Formatter.authorization(MCHID, NONCE, peer.Rsa.sign(peer.Formatter.request('POST', PATH, TIMESTAMP, NONCE, REQUEST_BODY), merchant.privateKey), TIMESTAMP, SERIAL_NO),
      },
      { label: 'node-v3', run: nodeV3Authorization },
    ],
  },
  {
    name: 'v3 verify (headers + window + RSA-2048 verify)',
    target: 0.95,
    variants: [
      { label: 'ours', run: () => verifyWechatPaySignature({ headers: RESPONSE_HEADERS, body: RESPONSE_BODY, keys: verifierKeys, now }) },
      { label: 'raw', run: () => rawVerify(RESPONSE_HEADERS, RESPONSE_BODY) },
      { label: 'peer', run: () => peer.Rsa.verify(peer.Formatter.response(TIMESTAMP, NONCE, RESPONSE_BODY), responseSignature, wechat.publicKey) },
      { label: 'node-v3', run: () => nodeV3Verify(RESPONSE_HEADERS, RESPONSE_BODY), note: 'async API (a promise per call), no timestamp window, no probe check' },
    ],
  },
  {
    name: 'v3 notification open (verify + JSON + GCM + JSON, 1 KB)',
    target: 0.95,
    variants: [
      { label: 'ours', run: oursOpen },
      { label: 'raw', run: () => rawOpenNotification(NOTIFICATION_HEADERS, NOTIFICATION_BODY) },
      { label: 'node-v3', run: () => nodeV3Open(NOTIFICATION_HEADERS, NOTIFICATION_BODY), note: 'verifySign + decipher_gcm (NO GCM tag check) + caller-side window check and JSON' },
    ],
  },
  {
    name: 'AES-256-GCM decrypt (1 KB resource)',
    target: 0.95,
    variants: [
      { label: 'ours', run: () => decryptAeadAes256Gcm(RESOURCE, APIV3_KEY) },
      { label: 'raw', run: rawGcmDecrypt },
      { label: 'peer', run: () => peer.Aes.AesGcm.decrypt(RESOURCE.ciphertext, APIV3_KEY, GCM_NONCE, GCM_AAD) },
      { label: 'node-v3', run: () => nodeV3.decipher_gcm(RESOURCE.ciphertext, GCM_AAD, GCM_NONCE), note: 'NO tag check (never calls final()), and JSON-parses the result' },
    ],
  },
  {
    name: 'RSA-OAEP encrypt (18-byte field)',
    target: 0.95,
    variants: [
      { label: 'ours', run: () => encryptSensitive(SENSITIVE, encryptionKey) },
      { label: 'raw', run: rawOaepEncrypt },
      { label: 'peer', run: () => peer.Rsa.encrypt(SENSITIVE, wechat.publicKey) },
      { label: 'node-v3', run: () => nodeV3.publicEncrypt(SENSITIVE, wechat.publicKey as unknown as Buffer) },
    ],
  },
  {
    name: 'v2 sign MD5 (16 params)',
    target: 0.9,
    variants: [
      { label: 'ours', run: () => signV2(V2_PARAMS, APIV2_KEY) },
      { label: 'raw', run: () => rawV2Md5(V2_PARAMS) },
      { label: 'peer', run: () => peer.Hash.sign('MD5', V2_PARAMS, APIV2_KEY) },
    ],
  },
  {
    name: 'v2 sign HMAC-SHA256 (16 params)',
    target: 0.9,
    variants: [
      { label: 'ours', run: () => signV2(V2_PARAMS, APIV2_KEY, 'HMAC-SHA256') },
      { label: 'raw', run: () => rawV2Hmac(V2_PARAMS) },
      { label: 'peer', run: () => peer.Hash.sign('HMAC-SHA256', V2_PARAMS, APIV2_KEY) },
    ],
  },
  {
    name: 'v2 verify MD5 (16 params)',
    target: 0.9,
    variants: [
      { label: 'ours', run: () => verifyV2(V2_SIGNED_MD5, APIV2_KEY) },
      { label: 'raw', run: () => rawV2Verify(V2_SIGNED_MD5) },
      { label: 'peer', run: () => peer.Hash.equals(peer.Hash.sign('MD5', V2_SIGNED_MD5, APIV2_KEY), V2_SIGNED_MD5.sign) },
    ],
  },
  {
    name: 'XML build + parse (16 params)',
    target: 0.9,
    variants: [
      { label: 'ours', run: () => parseXml(buildXml(V2_PARAMS)) },
      { label: 'raw', run: () => rawXmlRoundTrip(V2_PARAMS), note: 'template build + fast-xml-parser validate+parse' },
      { label: 'peer', run: () => peer.Transformer.toObject(peer.Transformer.toXml(V2_PARAMS)), note: 'no validation' },
    ],
  },
];

export const protocolSuite: BenchSuite = { name: 'protocol', groups };
