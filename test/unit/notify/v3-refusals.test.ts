import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HttpEvent } from '../../../shared/http/request';
import type { MerchantContext } from '../../../shared/merchant/context';
import type { MerchantDirectory } from '../../../shared/merchant/directory';
import { receiveV3Notification } from '../../../shared/notify/v3';
import type { Runtime } from '../../../shared/runtime/container';
import { publishMetrics } from '../../../shared/runtime/metrics';
import { buildNotification, signHeaders, strangerKey, type BuiltNotification } from '../../support/notifications';

/**
 * Which refusals count as `NotificationsRefusedKnownSerial`, the metric the notify alarm watches (serverless.yml):
 * only those an outsider cannot produce cheaply. Every refusal still counts as `NotificationsRefused`.
 */
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEYS = {
  serial: 'PUB_KEY_ID_0114232134912410000000000000',
  privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  apiV3Key: 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb',
};

function merchant(): MerchantContext {
  const verifierKeys = new Map<string, KeyObject>([[KEYS.serial, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }))]]);
  return { role: 'direct', mchid: '1900000001', appid: 'wx8888888888888888', verifierKeys, apiV3Key: KEYS.apiV3Key } as unknown as MerchantContext;
}

function runtime(): Runtime {
  const current = merchant();
  const merchants = { get: vi.fn(async () => current), refresh: vi.fn(async () => current) };
  return {
    config: {} as Runtime['config'],
    dynamo: {} as Runtime['dynamo'],
    claims: {} as Runtime['claims'],
    merchants: merchants as unknown as MerchantDirectory,
    now: Date.now,
    wallClock: Date.now,
  };
}

const route = { name: 'notifyUnit', role: 'direct' as const, eventTypes: ['TRANSACTION.SUCCESS'], apply: async () => 'applied' };
const event = (n: BuiltNotification): HttpEvent => ({ body: n.body, headers: n.headers, isBase64Encoded: false }) as unknown as HttpEvent;
const genuine = (keys = KEYS, timestamp?: number) =>
  buildNotification(keys, { eventType: 'TRANSACTION.SUCCESS', resource: { out_trade_no: 'T1' }, ...(timestamp ? { timestamp } : {}) });

let written: string[];
beforeEach(() => {
  written = [];
  // Powertools writes through the global console in dev mode (vitest.config.ts), else straight to process.stdout.
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      const text = String(args[0]);
      if (text.includes('"_aws"')) written.push(text);
    });
  }
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) written.push(text);
    // Metrics and the handler's JSON log lines are this test's to read, not the console's.
    if (text.startsWith('{')) return true;
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  });
});
afterEach(() => vi.restoreAllMocks());

/** The metric names one notification published (embedded metric format lines on stdout). */
async function metricsOf(n: BuiltNotification): Promise<{ status: number; metrics: string[] }> {
  written = [];
  const result = await receiveV3Notification(runtime(), event(n), route);
  publishMetrics();
  const metrics = written.flatMap((line) => {
    const emf = JSON.parse(line) as { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] }; service?: string };
    // The alarms select on the `service` dimension: every metric must carry it.
    for (const directive of emf._aws.CloudWatchMetrics) expect(directive.Dimensions.flat()).toContain('service');
    return emf._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name));
  });
  return { status: result.statusCode ?? 0, metrics: metrics.sort() };
}

describe('v3 notification refusals', () => {
  it('counts an accepted notification as accepted only', async () => {
    expect(await metricsOf(genuine())).toEqual({ status: 204, metrics: ['NotificationsAccepted'] });
  });

  it('counts what anyone with curl can send as refused, never with a known serial', async () => {
    const n = genuine();
    const cases: Record<string, BuiltNotification> = {
      unsigned: { body: n.body, headers: { 'content-type': 'application/json' } },
      unknownSerial: genuine({ ...KEYS, serial: 'PUB_KEY_ID_0000000000000000000000000000', privateKeyPem: strangerKey() }),
      stale: genuine(KEYS, Math.floor(Date.now() / 1000) - 301),
      probe: { body: n.body, headers: { ...n.headers, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${n.headers['wechatpay-signature']}` } },
      badBase64: { body: n.body, headers: { ...n.headers, 'wechatpay-signature': '***' } },
    };
    for (const [name, forged] of Object.entries(cases)) {
      expect(await metricsOf(forged), name).toEqual({ status: 401, metrics: ['NotificationsRefused'] });
    }
  });

  it('counts a refusal under a serial we hold, or of a body WeChat signed that we cannot open, as known-serial', async () => {
    const n = genuine();
    const cases: Record<string, BuiltNotification> = {
      // Our key for this serial no longer matches WeChat's (or someone who knows our serial forged it).
      wrongKeyForSerial: genuine({ ...KEYS, privateKeyPem: strangerKey() }),
      tampered: { body: n.body.replace('"summary":"test"', '"summary":"tesu"'), headers: n.headers },
      // Signed by WeChat, sealed under an APIv3 key that is not ours any more.
      otherApiV3Key: genuine({ ...KEYS, apiV3Key: 'Zb8ruzIWazQj3sTfV7e2Gk1BJZ1edc7a' }),
      // Signed by WeChat, in a shape we cannot read.
      unreadable: (() => {
        const body = JSON.stringify({ id: 'EV-1', event_type: 'TRANSACTION.SUCCESS', resource: { algorithm: 'SM4' } });
        return { body, headers: signHeaders(body, KEYS) };
      })(),
    };
    for (const [name, refused] of Object.entries(cases)) {
      expect(await metricsOf(refused), name).toEqual({ status: 401, metrics: ['NotificationsRefused', 'NotificationsRefusedKnownSerial'] });
    }
  });
});
