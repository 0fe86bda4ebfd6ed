/**
 * Forged and tampered notifications on every notify route (V3_ROUTES, V2_ROUTES in ./support.ts).
 *
 * Each route gets a real record (made through its create handler against a private sandbox) and a genuine
 * notification that WOULD move it. Every forgery is derived from that genuine notification, is refused (v3: 401
 * `{"code":"FAIL"}`, or 400 for an authentic event that does not belong at the URL; v2: a non-200 with FAIL XML),
 * and leaves the private table byte-for-byte unchanged (a full Scan before and after every single case) with zero
 * successful DynamoDB writes. Finally the genuine notification is delivered and DOES change the record, so none of
 * the refusals can be explained by a record that could not change anyway.
 */
import { createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../shared/runtime/logger';
import { buildNotification, encryptResource, signHeaders, strangerKey, type BuiltNotification } from '../support/notifications';
import {
  V2_FAIL_MARK,
  V2_ROUTES,
  V2_SUCCESS_XML,
  V3_ROUTES,
  captureOutput,
  contractFields,
  header,
  httpEvent,
  leaksIn,
  parse,
  v2PaymentFields,
  snapshot,
  startHarness,
  tableItems,
  total,
  v2Event,
  v2Sign,
  v2Xml,
  v2XmlRaw,
  v3Notification,
  type CapturedOutput,
  type Harness,
  type Json,
  type Result,
  type V2Route,
  type V3Route,
} from './support';

let h: Harness;
let output: CapturedOutput;
let stranger: string;
const responses: string[] = [];

// XXE witnesses: a marker file and a loopback HTTP listener that counts every request it gets.
let markerDir: string;
let markerPath: string;
const markerContent = `ADV-MARKER-${randomBytes(12).toString('hex')}`;
let entityServer: Server;
let entityUrl: string;
let entityHits = 0;
const entityContent = `ADV-REMOTE-${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  output = captureOutput();
  h = await startHarness();
  stranger = strangerKey();
  markerDir = mkdtempSync(join(tmpdir(), 'adv-xxe-'));
  markerPath = join(markerDir, 'marker.txt');
  writeFileSync(markerPath, markerContent);
  entityServer = createServer((_req, res) => {
    entityHits += 1;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(entityContent);
  });
  await new Promise<void>((resolve) => entityServer.listen(0, '127.0.0.1', resolve));
  entityUrl = `http://127.0.0.1:${(entityServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await h?.close();
  await new Promise<void>((resolve) => (entityServer ? entityServer.close(() => resolve()) : resolve()));
  if (markerDir) rmSync(markerDir, { recursive: true, force: true });
  output?.restore();
});

interface Case {
  label: string;
  event: ReturnType<typeof httpEvent>;
  /** v3: 401 unless the event is authentic but not for this URL (400). */
  status?: number;
}

/**
 * Runs every case against the route and proves each one was refused and changed nothing: the record's items (Scan
 * filtered by its pk fragments) and every other item of the private table are identical after each case, and no
 * DynamoDB write succeeded at all.
 */
async function expectRefusedWithoutChange(
  handler: (e: ReturnType<typeof httpEvent>) => Promise<Result>,
  watch: string[],
  cases: Case[],
  check: (res: Result, c: Case) => void,
) {
  const recordBefore = await snapshot(h, watch);
  expect(recordBefore.length, 'the record exists (else "unchanged" would prove nothing)').toBeGreaterThan(0);
  const before = await snapshot(h);
  const writesBefore = total(h.writes);
  for (const c of cases) {
    const res = await handler(c.event);
    responses.push(res.body ?? '');
    check(res, c);
    expect(await snapshot(h, watch), `${c.label}: the record changed`).toEqual(recordBefore);
    expect(await snapshot(h), `${c.label}: the table changed`).toEqual(before);
  }
  expect(total(h.writes) - writesBefore, 'successful DynamoDB writes during the forged cases').toBe(0);
}

function v3Check(res: Result, c: Case) {
  expect(res.statusCode, c.label).toBe(c.status ?? 401);
  expect(header(res, 'content-type'), c.label).toMatch(/^application\/json/);
  expect(parse(res), c.label).toMatchObject({ code: 'FAIL' });
}

function v2Check(res: Result, c: Case) {
  expect(res.statusCode, c.label).not.toBe(200);
  expect([400, 401, 413], `${c.label}: status ${res.statusCode}`).toContain(res.statusCode);
  expect(header(res, 'content-type'), c.label).toMatch(/^text\/xml/);
  expect(res.body, c.label).toContain(V2_FAIL_MARK);
  expect(res.body, c.label).not.toContain(markerContent);
  expect(res.body, c.label).not.toContain(entityContent);
}

// ---------------------------------------------------------------------------------------------------------------
// APIv3
// ---------------------------------------------------------------------------------------------------------------

const flip = (text: string, at: number) => {
  const bytes = Buffer.from(text, 'utf8');
  bytes[at] = bytes[at]! ^ 0x01;
  return bytes.toString('utf8');
};

function signWith(privateKeyPem: string, timestamp: string, nonce: string, body: string): string {
  return createSign('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`).sign(privateKeyPem, 'base64');
}

function v3Cases(route: V3Route, genuine: BuiltNotification, resource: Json, nowSec: number): Case[] {
  const keys = route.keys(h);
  const ev = (body: string, headers: Record<string, string>, base64 = false) => httpEvent(body, headers, base64);
  /** A body signed correctly by WeChat's key: only what is inside is wrong. */
  const signed = (body: string) => ev(body, signHeaders(body, keys, nowSec));
  const g = genuine.headers;
  const envelope = JSON.parse(genuine.body) as Json;
  /** The genuine envelope with its resource changed, re-signed: only the AEAD layer (or shape) is wrong. */
  const reResource = (change: (r: Json) => void) => {
    const copy = JSON.parse(genuine.body) as Json;
    change(copy.resource);
    return signed(JSON.stringify(copy));
  };
  const reEnvelope = (change: (e: Json) => void) => {
    const copy = JSON.parse(genuine.body) as Json;
    change(copy);
    return signed(JSON.stringify(copy));
  };
  const sealed = Buffer.from(envelope.resource.ciphertext as string, 'base64');
  const withSealed = (mutate: (b: Buffer) => Buffer) => reResource((r) => (r.ciphertext = mutate(Buffer.from(sealed)).toString('base64')));
  const otherApiV3Key = keys.apiV3Key === h.direct.keys.apiV3Key ? h.partner.keys.apiV3Key : h.direct.keys.apiV3Key;
  const at = (timestamp: number) => buildNotification(keys, { eventType: route.eventType, resource, associatedData: route.associatedData, originalType: route.originalType, timestamp });
  const garbledTimestamp = (ts: string) => ev(genuine.body, { ...g, 'wechatpay-timestamp': ts, 'wechatpay-signature': signWith(keys.privateKeyPem, ts, g['wechatpay-nonce']!, genuine.body) });
  const n = Buffer.byteLength(genuine.body);
  const merchantSecret = Object.values(h.stack.secrets).find((s) => s.apiV3Key === keys.apiV3Key)!;

  const cases: Case[] = [];
  const add = (label: string, event: Case['event'], status?: number) => cases.push({ label, event, ...(status ? { status } : {}) });

  for (const name of ['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial']) {
    const { [name]: _dropped, ...rest } = g;
    add(`header ${name} missing`, ev(genuine.body, rest));
    add(`header ${name} empty`, ev(genuine.body, { ...g, [name]: '' }));
  }
  for (const ts of ['abc', '1.7e9', '-1', `${nowSec}.0`, `${nowSec}000`, ` ${nowSec}`, `0${nowSec}`, '１７００００００００', `0x${nowSec.toString(16)}`]) {
    add(`timestamp ${JSON.stringify(ts)} (re-signed)`, garbledTimestamp(ts));
  }
  const sig = g['wechatpay-signature']!;
  for (const [label, bad] of [
    ['not base64', '!!!!not-base64!!!!'],
    ['one character short', sig.slice(1)],
    ['padding stripped', sig.replace(/=+$/, '')],
    ['base64url alphabet', sig.replaceAll('+', '-').replaceAll('/', '_')],
    ['whitespace inside', `${sig.slice(0, 40)} ${sig.slice(40)}`],
    ['extra valid base64 block', `${sig}AAAA`],
    ['two signatures joined as a repeated header', `${Buffer.alloc(256, 7).toString('base64')},${sig}`],
    ['all padding', '===='],
  ] as const) {
    add(`signature ${label}`, ev(genuine.body, { ...g, 'wechatpay-signature': bad }));
  }
  for (const type of ['WECHATPAY2-SM2-WITH-SM3', 'wechatpay2-sha256-rsa2048', 'WECHATPAY2-SHA256-RSA2048 ', 'RSA', 'HMAC-SHA256']) {
    add(`signature type ${JSON.stringify(type)}`, ev(genuine.body, { ...g, 'wechatpay-signature-type': type }));
  }
  for (const position of [0, 1, Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4), n - 2, n - 1]) {
    add(`body byte ${position} flipped`, ev(flip(genuine.body, position), g));
  }
  add('body byte flipped (base64-encoded event)', ev(flip(genuine.body, Math.floor(n / 3)), g, true));
  add('trailing newline added', ev(`${genuine.body}\n`, g));
  add('leading space added', ev(` ${genuine.body}`, g));
  add('re-serialised (same JSON, other bytes)', ev(JSON.stringify(envelope, null, 2), g));
  add('signed by a stranger key under the right serial', ev(genuine.body, { ...g, 'wechatpay-signature': signWith(stranger, String(nowSec), g['wechatpay-nonce']!, genuine.body) }));
  add("signed with OUR merchant key (not WeChat's)", ev(genuine.body, { ...g, 'wechatpay-signature': signWith(merchantSecret.merchantPrivateKey, String(nowSec), g['wechatpay-nonce']!, genuine.body) }));
  add('signature of another nonce', ev(genuine.body, { ...g, 'wechatpay-nonce': `${g['wechatpay-nonce']}0` }));
  for (const serial of ['PUB_KEY_ID_0000000000000000000000000000', keys.serial.toLowerCase(), `${keys.serial} `, merchantSecret.merchantSerialNo]) {
    add(`unknown serial ${JSON.stringify(serial.slice(0, 24))}`, ev(genuine.body, { ...g, 'wechatpay-serial': serial }));
  }
  for (const skew of [-301, 301, -300, 300, -86_400, 86_400]) {
    const stale = at(nowSec + skew);
    add(`timestamp ${skew > 0 ? '+' : ''}${skew} s`, ev(stale.body, stale.headers));
  }
  add('WECHATPAY/SIGNTEST/ probe over the genuine signature', ev(genuine.body, { ...g, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${sig}` }));
  add('WECHATPAY/SIGNTEST/ probe', ev(genuine.body, { ...g, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${randomBytes(32).toString('base64')}` }));

  // AEAD layer, re-signed so only the decryption can fail.
  add('GCM ciphertext byte flipped', withSealed((b) => ((b[0] = b[0]! ^ 1), b)));
  add('GCM tag byte flipped', withSealed((b) => ((b[b.length - 1] = b[b.length - 1]! ^ 1), b)));
  add('GCM tag cut off', withSealed((b) => b.subarray(0, b.length - 16)));
  add('GCM ciphertext shorter than a tag', withSealed((b) => b.subarray(0, 15)));
  add('GCM ciphertext empty', reResource((r) => (r.ciphertext = '')));
  add('GCM ciphertext not base64', reResource((r) => (r.ciphertext = `@@${r.ciphertext}`)));
  add('GCM nonce changed', reResource((r) => (r.nonce = `${(r.nonce as string).slice(0, 11)}${(r.nonce as string).endsWith('a') ? 'b' : 'a'}`)));
  add('GCM nonce 11 bytes', reResource((r) => (r.nonce = (r.nonce as string).slice(0, 11))));
  add('GCM nonce 13 bytes', reResource((r) => (r.nonce = `${r.nonce}a`)));
  add('GCM nonce missing', reResource((r) => delete r.nonce));
  add('GCM associated_data changed', reResource((r) => (r.associated_data = route.associatedData === '' ? 'transaction' : 'certificate')));
  if (route.associatedData !== '') add('GCM associated_data missing', reResource((r) => delete r.associated_data));
  add('GCM associated_data not a string', reResource((r) => (r.associated_data = 7)));
  add('algorithm AEAD_AES_128_GCM', reResource((r) => (r.algorithm = 'AEAD_AES_128_GCM')));
  add('algorithm missing', reResource((r) => delete r.algorithm));
  add("encrypted under the other merchant's APIv3 key", (() => {
    const other = buildNotification({ ...keys, apiV3Key: otherApiV3Key }, { eventType: route.eventType, resource, associatedData: route.associatedData, originalType: route.originalType, timestamp: nowSec });
    return ev(other.body, other.headers);
  })());
  add('decrypted resource is not JSON', reResource((r) => Object.assign(r, encryptResource('not json at all', keys.apiV3Key, route.associatedData))));

  // Bodies that are not an envelope at all, signed correctly.
  for (const body of ['', 'not json', '[]', 'null', '"TRANSACTION.SUCCESS"', '123', '{}', genuine.body.slice(0, -1), `\uFEFF${genuine.body}`, '{"id":"x","event_type":"TRANSACTION.SUCCESS"}']) {
    add(`signed non-envelope ${JSON.stringify(body.slice(0, 30))}`, signed(body));
  }
  add('resource is a string', reEnvelope((e) => (e.resource = 'resource')));
  add('resource is null', reEnvelope((e) => (e.resource = null)));
  add('resource is an array', reEnvelope((e) => (e.resource = [e.resource])));
  add('id missing', reEnvelope((e) => delete e.id));
  add('id is a number', reEnvelope((e) => (e.id = 42)));
  add('event_type missing', reEnvelope((e) => delete e.event_type));
  add('ciphertext missing', reResource((r) => delete r.ciphertext));
  add('ciphertext is a number', reResource((r) => (r.ciphertext = 1)));

  // Authentic and decryptable with this route's key, but not an event this URL takes.
  for (const other of V3_ROUTES.filter((r) => r.eventType !== route.eventType).map((r) => r.eventType).concat(['REFUND.SUCCESS'])) {
    const misrouted = buildNotification(keys, { eventType: other, resource, associatedData: route.associatedData, originalType: route.originalType, timestamp: nowSec });
    add(`authentic ${other} at this URL`, ev(misrouted.body, misrouted.headers), 400);
  }
  return cases;
}

describe.each(V3_ROUTES.map((r) => [r.name, r] as const))('APIv3 %s', (_name, route) => {
  it('every forged or tampered copy → 401 {"code":"FAIL"} (400 when authentic but misrouted), zero state change', async () => {
    const target = await route.prepare(h);
    // A frozen clock: the replay-window cases sit exactly on their boundary whatever the machine's speed.
    const nowMs = Math.floor(Date.now() / 1000) * 1000 + 500;
    const nowSec = Math.floor(nowMs / 1000);
    h.clock.frozenMs = nowMs;
    try {
      const genuine = v3Notification(h, route, target, { timestamp: nowSec });
      const cases = v3Cases(route, genuine, target.resource, nowSec);
      expect(cases.length).toBeGreaterThan(70);
      await expectRefusedWithoutChange(route.handler, target.watch, cases, v3Check);
      expect(await target.state()).not.toBe(target.expectedState);

      // The genuine notification does change the record: the refusals above were not vacuous.
      const ok = await route.handler(httpEvent(genuine.body, genuine.headers));
      expect(ok.statusCode, ok.body).toBe(204);
      expect(await target.state()).toBe(target.expectedState);
    } finally {
      h.clock.frozenMs = undefined;
    }
  });

  it('the replay window: ±299 s accepted, ±300 s refused (|skew| >= 300 is stale)', async () => {
    const targets = [await route.prepare(h), await route.prepare(h)];
    const nowMs = Math.floor(Date.now() / 1000) * 1000 + 999;
    const nowSec = Math.floor(nowMs / 1000);
    h.clock.frozenMs = nowMs;
    try {
      for (const [i, skew] of [-299, 299].entries()) {
        const target = targets[i]!;
        for (const refused of [skew > 0 ? 300 : -300]) {
          const n = v3Notification(h, route, target, { timestamp: nowSec + refused });
          const res = await route.handler(httpEvent(n.body, n.headers));
          expect(res.statusCode, `skew ${refused}`).toBe(401);
          expect(await target.state()).not.toBe(target.expectedState);
        }
        const n = v3Notification(h, route, target, { timestamp: nowSec + skew });
        const res = await route.handler(httpEvent(n.body, n.headers));
        expect(res.statusCode, `skew ${skew}: ${res.body}`).toBe(204);
        expect(await target.state(), `skew ${skew}`).toBe(target.expectedState);
      }
    } finally {
      h.clock.frozenMs = undefined;
    }
  });

  it('a missing Wechatpay-Signature-Type is read as the RSA one (as the SDKs do), and header names are case-insensitive', async () => {
    const target = await route.prepare(h);
    const n = v3Notification(h, route, target);
    const { 'wechatpay-signature-type': _type, ...rest } = n.headers;
    const mixedCase = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()), v]));
    const res = await route.handler(httpEvent(n.body, mixedCase));
    expect(res.statusCode, res.body).toBe(204);
    expect(await target.state()).toBe(target.expectedState);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// APIv2
// ---------------------------------------------------------------------------------------------------------------

const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>';

function v2Cases(route: V2Route, fields: Record<string, string>, required: string[]): Case[] {
  const key = h.direct.apiV2Key;
  const genuine = v2Xml(fields, key);
  const sign = v2Sign(fields, key);
  const cases: Case[] = [];
  const add = (label: string, xml: string, base64 = false) => cases.push({ label, event: v2Event(xml, base64) });
  const raw = (f: Record<string, string>) => v2XmlRaw(f);
  const firstKey = Object.keys(fields).find((k) => k !== 'return_code')!;

  add('sign: one character changed', raw({ ...fields, sign: `${sign.slice(0, -1)}${sign.endsWith('0') ? '1' : '0'}` }));
  add('sign: made with another key', v2Xml(fields, 'x'.repeat(32)));
  add("sign: made with the APIv3 key", v2Xml(fields, h.direct.keys.apiV3Key));
  add('sign: missing', raw(fields));
  add('sign: empty', raw({ ...fields, sign: '' }));
  add('sign: 31 characters', raw({ ...fields, sign: sign.slice(1) }));
  add('sign: 64 characters but not the HMAC', raw({ ...fields, sign: sign + sign }));
  for (const name of Object.keys(fields).filter((k) => k !== 'return_code' && k !== 'sign').slice(0, 6)) {
    add(`field ${name} changed after signing`, raw({ ...fields, [name]: `${fields[name]}1`, sign }));
  }
  add('field removed after signing', raw({ ...Object.fromEntries(Object.entries(fields).filter(([k]) => k !== firstKey)), sign }));
  add('field added after signing', raw({ ...fields, coupon_fee: '100', sign }));
  add('sign_type HMAC-SHA256 declared, MD5 sign', raw({ ...fields, sign_type: 'HMAC-SHA256', sign: v2Sign({ ...fields, sign_type: 'HMAC-SHA256' }, key, 'MD5') }));
  add('sign_type MD5 declared, HMAC-SHA256 sign', raw({ ...fields, sign_type: 'MD5', sign: v2Sign({ ...fields, sign_type: 'MD5' }, key, 'HMAC-SHA256') }));
  add('sign_type HMAC-SHA256 added after an MD5 signing', raw({ ...fields, sign_type: 'HMAC-SHA256', sign }));
  add('sign_type SHA1', raw({ ...fields, sign_type: 'SHA1', sign: v2Sign({ ...fields, sign_type: 'SHA1' }, key, 'MD5') }));
  add('sign_type md5 (lower case)', raw({ ...fields, sign_type: 'md5', sign: v2Sign({ ...fields, sign_type: 'md5' }, key, 'MD5') }));

  // Correctly signed, but not something this URL can store.
  for (const name of required) {
    const { [name]: _gone, ...rest } = fields;
    add(`signed, without ${name}`, v2Xml(rest, key));
  }
  // The other v2 notification (authentic, signed), delivered to this URL.
  const foreign =
    route.name === 'contract-order-payment'
      ? contractFields(h, { contract_code: fields.out_trade_no, plan_id: h.direct.planId, request_serial: '1' })
      : v2PaymentFields(h.direct, { out_trade_no: fields.contract_code, trade_type: 'APP', total_fee: 888 });
  add('authentic notification of the other v2 URL', v2Xml(foreign, key));
  const { return_code: _rc, ...noReturnCode } = fields;
  add('signed, without return_code', v2Xml(noReturnCode, key));
  add('signed, return_code FAIL', v2Xml({ ...fields, return_code: 'FAIL' }, key));

  // XML shape and the parser itself.
  add('duplicate element (second value unsigned)', genuine.replace('</xml>', `<${firstKey}><![CDATA[other]]></${firstKey}></xml>`));
  add('nested element', genuine.replace('</xml>', '<detail><goods>1</goods></detail></xml>'));
  add('attribute on the root', genuine.replace('<xml>', '<xml id="1">'));
  add('two roots', `${genuine}${genuine}`);
  add('undeclared entity reference', genuine.replace('</xml>', '<attach>&xxe;</attach></xml>'));
  add('not XML: JSON', JSON.stringify(fields));
  add('not XML: plain success', 'success');
  add('not XML: HTML', '<html><body>SUCCESS</body></html>');
  add('empty body', '');
  cases.push({ label: 'invalid UTF-8 bytes', event: { ...v2Event(''), body: Buffer.concat([Buffer.from('<xml><attach>'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('</attach></xml>')]).toString('base64'), isBase64Encoded: true } });

  // DTDs and entities. Each entity's expansion is signed, so a parser that resolved it would make the sign verify
  // and the record change: the refusal is what keeps the state, not a sign mismatch.
  const expandedTo = (value: string) => v2Xml({ ...fields, attach: value }, key).replace(`<attach><![CDATA[${value}]]></attach>`, '<attach>&xxe;</attach>');
  add('XXE: external entity from a file', `${XML_DECL}<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${markerPath}">]>${expandedTo(markerContent)}`);
  add('XXE: external entity over HTTP', `${XML_DECL}<!DOCTYPE xml [<!ENTITY xxe SYSTEM "${entityUrl}/entity">]>${expandedTo(entityContent)}`);
  add('XXE: parameter entity over HTTP', `<!DOCTYPE xml [<!ENTITY % remote SYSTEM "${entityUrl}/evil.dtd"> %remote;]>${genuine}`);
  add('XXE: external DTD', `<!DOCTYPE xml SYSTEM "${entityUrl}/external.dtd">${genuine}`);
  add('XXE: PUBLIC external DTD, lower-case doctype', `<!doctype xml PUBLIC "-//ADV//X" "${entityUrl}/public.dtd">${genuine}`);
  add('XXE: internal entity whose value is signed', `<!DOCTYPE xml [<!ENTITY xxe "internal">]>${expandedTo('internal')}`);
  add('XInclude of the marker file', genuine.replace('<xml>', `<xml xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file://${markerPath}" parse="text"/>`));
  add('DOCTYPE after a comment', `<!-- hello --><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${markerPath}">]>${expandedTo(markerContent)}`);
  const lol = ['<!ENTITY lol0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`)].join('');
  add('billion laughs', `${XML_DECL}<!DOCTYPE xml [${lol}]>${genuine.replace('</xml>', '<attach>&lol9;</attach></xml>')}`);
  const quadratic = `<!ENTITY a "${'A'.repeat(20_000)}">`;
  add('quadratic blow-up', `<!DOCTYPE xml [${quadratic}]>${genuine.replace('</xml>', `<attach>${'&a;'.repeat(2_000)}</attach></xml>`)}`);
  cases.push({
    label: 'XXE in UTF-16',
    event: {
      ...v2Event(''),
      body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${markerPath}">]>${expandedTo(markerContent)}`, 'utf16le')]).toString('base64'),
      isBase64Encoded: true,
    },
  });

  // Size: a correctly signed 1 MB notification is refused unread, plain or base64-encoded.
  const big = v2Xml({ ...fields, attach: 'A'.repeat(1 << 20) }, key);
  add('1 MB body (correctly signed)', big);
  add('1 MB body, base64-encoded event', big, true);
  add('1 MB of whitespace before <xml>', `${' '.repeat(1 << 20)}${genuine}`);
  return cases;
}

describe.each(V2_ROUTES.map((r) => [r.name, r] as const))('APIv2 %s', (_name, route) => {
  it('every forged, tampered, malformed, XXE or oversized copy → FAIL XML with a non-200 status, zero state change', async () => {
    const target = await route.prepare(h);
    const cases = v2Cases(route, target.fields, target.required);
    expect(cases.length).toBeGreaterThan(45);
    const hitsBefore = entityHits;
    const started = performance.now();
    await expectRefusedWithoutChange(route.handler, target.watch, cases, v2Check);
    expect(performance.now() - started, 'entity expansion would take this long').toBeLessThan(20_000);
    expect(entityHits - hitsBefore, 'requests our parser made for external entities / DTDs').toBe(0);
    expect(await target.state()).not.toBe(target.expectedState);

    // The genuine notification does change the record.
    const ok = await route.handler(v2Event(v2Xml(target.fields, h.direct.apiV2Key)));
    expect([ok.statusCode, ok.body]).toEqual([200, V2_SUCCESS_XML]);
    expect(await target.state()).toBe(target.expectedState);
  });

  it('sign_type is honoured both ways: a genuine HMAC-SHA256 notification with sign_type is accepted', async () => {
    const target = await route.prepare(h);
    const fields = { ...target.fields, sign_type: 'HMAC-SHA256' };
    const res = await route.handler(v2Event(v2Xml(fields, h.direct.apiV2Key, 'HMAC-SHA256')));
    expect([res.statusCode, res.body]).toEqual([200, V2_SUCCESS_XML]);
    expect(await target.state()).toBe(target.expectedState);
  });
});

describe('nothing was read from disk or the network by the XML parser', () => {
  it('the marker file was never opened (atime witness, calibrated) and its content is nowhere', async () => {
    // Calibrate: does this filesystem record reads in atime at all (relatime updates atime <= mtime)?
    const control = join(markerDir, 'control.txt');
    writeFileSync(control, 'x');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(control, old, new Date());
    const controlBefore = statSync(control).atimeMs;
    readFileSync(control);
    const atimeWorks = statSync(control).atimeMs !== controlBefore;

    utimesSync(markerPath, old, new Date());
    const markerBefore = statSync(markerPath).atimeMs;
    for (const route of V2_ROUTES) {
      const target = await route.prepare(h);
      const xml = `<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://${markerPath}">]>${v2Xml({ ...target.fields, attach: markerContent }, h.direct.apiV2Key).replace(`<![CDATA[${markerContent}]]>`, '&xxe;')}`;
      const res = await route.handler(v2Event(xml));
      expect(res.statusCode).toBe(400);
    }
    if (atimeWorks) expect(statSync(markerPath).atimeMs, 'the marker file was read').toBe(markerBefore);
    const haystacks = [...responses, ...output.lines, ...(await tableItems(h)).map((i) => JSON.stringify(i))];
    expect(haystacks.filter((s) => s.includes(markerContent) || s.includes(entityContent))).toEqual([]);
  });
});

describe('leaks', () => {
  it('no key, API key, JWT key, identity or Authorization value in any log line or table item of this file', async () => {
    logger.info('adversarial canary', { canary: 'ADV-CANARY-FORGED' });
    expect(output.lines.some((l) => l.includes('ADV-CANARY-FORGED')), 'the capture sees the logger').toBe(true);
    expect(output.lines.length, 'every refusal is logged').toBeGreaterThan(300);
    expect(await leaksIn(h, output)).toEqual([]);
  });
});
