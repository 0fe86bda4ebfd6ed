import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../../../sandbox/index';
import { sandboxUnderTest } from './support/lifecycle';
import { contractOrder, sandboxJson, v3 } from './support/client';
import { Receiver } from './support/receiver';
import { contractOrderFields, h5Body } from './support/requests';
import { verifyWechatpaySignature } from './support/verify';

const sut = sandboxUnderTest();
const H5 = '/v3/pay/transactions/h5';
afterEach(async () => {
  await sandboxJson(sut.sb.url, '/sandbox/reset', {});
});


async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const verify = (res: { headers: Record<string, string>; text: string }): true | string =>
  verifyWechatpaySignature({ headers: res.headers, body: res.text }, sut.fx.wechatpay.publicKeyId, sut.fx.wechatpay.publicKeyPem);

describe('fault switches', () => {
  it('systemError: next N calls answer a signed 500 SYSTEM_ERROR, then normal service', async () => {
    const set = await sandboxJson(sut.sb.url, '/sandbox/faults', { systemError: 2 });
    expect(set.json.systemError).toBe(2);
    const body = h5Body(sut.fx.direct, sut.rx.url('/n'));
    for (let i = 0; i < 2; i += 1) {
      const res = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
      expect(res.status).toBe(500);
      expect(res.json?.['code']).toBe('SYSTEM_ERROR');
      expect(verify(res)).toBe(true);
    }
    const ok = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    expect(ok.status).toBe(200); // nothing was created by the failed calls
  });

  it('systemError on v2 is an in-band SYSTEMERROR', async () => {
    await sut.sb.faults.systemError(1, '/pay/contractorder');
    const res = await contractOrder(sut.sb.url, contractOrderFields(sut.fx.direct, sut.rx.url('/p'), sut.rx.url('/c')), sut.fx.direct.apiV2Key as string);
    expect(res.fields).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'SYSTEMERROR' });
  });

  it('match restricts the counters to matching paths', async () => {
    await sut.sb.faults.systemError(1, '/credit-repayment/');
    const res = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, sut.rx.url('/n')) });
    expect(res.status).toBe(200);
    expect(sut.sb.faults.snapshot().systemError).toBe(1);
  });

  it('timeout (before): the call hangs past the client timeout and changes nothing', async () => {
    await sut.sb.faults.timeout(1, 'before');
    const body = h5Body(sut.fx.direct, sut.rx.url('/n'));
    await expect(v3(sut.sb.url, sut.fx.direct, { path: H5, body, signal: AbortSignal.timeout(300) })).rejects.toThrow();
    const q = await v3(sut.sb.url, sut.fx.direct, { path: `/v3/pay/transactions/out-trade-no/${String(body['out_trade_no'])}?mchid=${sut.fx.direct.mchid}` });
    expect(q.status).toBe(404);
  });

  it('timeout (after): the call is processed, the answer never comes; a retry with the same body succeeds', async () => {
    await sandboxJson(sut.sb.url, '/sandbox/faults', { timeout: 1, timeoutMode: 'after', timeoutHangMs: 1000 });
    const body = h5Body(sut.fx.direct, sut.rx.url('/n'));
    await expect(v3(sut.sb.url, sut.fx.direct, { path: H5, body, signal: AbortSignal.timeout(300) })).rejects.toThrow();
    const q = await v3(sut.sb.url, sut.fx.direct, { path: `/v3/pay/transactions/out-trade-no/${String(body['out_trade_no'])}?mchid=${sut.fx.direct.mchid}` });
    expect(q.json?.['trade_state']).toBe('NOTPAY');
    const retry = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    expect(retry.status).toBe(200);
  });

  it('signTest: the next answer carries a WECHATPAY/SIGNTEST/ signature that fails verification', async () => {
    await sut.sb.faults.signTest(1);
    const res = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, sut.rx.url('/n')) });
    expect(res.status).toBe(200);
    expect(res.headers['wechatpay-signature']?.startsWith('WECHATPAY/SIGNTEST/')).toBe(true);
    expect(verify(res)).toBe('bad signature');
    const next = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, sut.rx.url('/n')) });
    expect(verify(next)).toBe(true);
  });

  it('notifySignTest: a probe notification is refused by a verifying receiver and re-sent correctly', async () => {
    const verifying = await Receiver.start((r) => {
      const ok = verifyWechatpaySignature({ headers: r.headers, body: r.body }, sut.fx.wechatpay.publicKeyId, sut.fx.wechatpay.publicKeyPem);
      return ok === true ? { status: 204 } : { status: 401, body: '{"code":"FAIL","message":"签名错误"}' };
    });
    try {
      await sut.sb.faults.notifySignTest(1);
      const created = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, verifying.url('/n')) });
      await sandboxJson(sut.sb.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
      await verifying.waitFor(2);
      await sut.sb.notifications.waitFor((a) => a.target === verifying.url('/n') && a.ok);
      expect(verifying.received[0]?.headers['wechatpay-signature']?.startsWith('WECHATPAY/SIGNTEST/')).toBe(true);
      const log = sut.sb.notifications.list().filter((a) => a.target === verifying.url('/n'));
      expect(log.map((a) => [a.attempt, a.status, a.ok, a.probe ?? false])).toEqual([
        [1, 401, false, true],
        [2, 204, true, false],
      ]);
    } finally {
      await verifying.close();
    }
  });

  it('mainDown: the main listener refuses connections, the backup serves the same state, restore works', async () => {
    const body = h5Body(sut.fx.direct, sut.rx.url('/n'));
    const created = await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    await sandboxJson(sut.sb.url, '/sandbox/faults', { mainDown: true });
    await expect(fetch(`${sut.sb.url}/sandbox/health`)).rejects.toThrow();
    const viaBackup = await v3(sut.sb.backupUrl, sut.fx.direct, { path: H5, body });
    expect(viaBackup.status).toBe(200);
    // same order, same still-valid link (served under the backup origin)
    expect(String(viaBackup.json?.['h5_url'])).toBe(String(created.json?.['h5_url']).replace(sut.sb.url, sut.sb.backupUrl));
    const info = await sandboxJson(sut.sb.backupUrl, '/sandbox/info');
    expect(info.json.mainDown).toBe(true);
    await sandboxJson(sut.sb.backupUrl, '/sandbox/faults', { mainDown: false });
    expect((await fetch(`${sut.sb.url}/sandbox/health`)).status).toBe(200);
  });

  it('duplicate notifications: each attempt is sent N times concurrently', async () => {
    await sut.sb.faults.duplicateNotifications(3);
    const created = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, sut.rx.url('/dup')) });
    await sandboxJson(sut.sb.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
    const got = await sut.rx.waitFor(3, '/dup');
    await sut.sb.notifications.waitFor((a) => a.target === sut.rx.url('/dup') && a.copy === 3);
    expect(new Set(got.map((r) => JSON.parse(r.body).id as string)).size).toBe(1);
    expect(sut.sb.notifications.list().filter((a) => a.target === sut.rx.url('/dup')).map((a) => a.copy)).toEqual(
      expect.arrayContaining([1, 2, 3]),
    );
  });

  it('delayed notifications wait the extra delay', async () => {
    await sut.sb.faults.delayNotifications(300);
    const created = await v3(sut.sb.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, sut.rx.url('/late')) });
    const t0 = Date.now();
    await sandboxJson(sut.sb.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
    const [r] = await sut.rx.waitFor(1, '/late');
    expect(r!.at - t0).toBeGreaterThanOrEqual(280);
  });

  it('out-of-order: the contract notification arrives before the payment one', async () => {
    const order: string[] = [];
    const both = await Receiver.start((r) => {
      order.push(r.path);
      return { status: 200, body: '<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>', contentType: 'text/xml' };
    });
    try {
      const normal = contractOrderFields(sut.fx.direct, both.url('/pay'), both.url('/contract'), { trade_type: 'APP' });
      await contractOrder(sut.sb.url, normal, sut.fx.direct.apiV2Key as string);
      await sandboxJson(sut.sb.url, '/sandbox/act', { out_trade_no: normal['out_trade_no'], action: 'pay' });
      await both.waitFor(2);
      expect(order).toEqual(['/pay', '/contract']);
      await sandboxJson(sut.sb.url, '/sandbox/faults', { notifyOrder: 'reversed' });
      const reversed = contractOrderFields(sut.fx.direct, both.url('/pay'), both.url('/contract'), { trade_type: 'APP' });
      await contractOrder(sut.sb.url, reversed, sut.fx.direct.apiV2Key as string);
      await sandboxJson(sut.sb.url, '/sandbox/act', { out_trade_no: reversed['out_trade_no'], action: 'pay' });
      await both.waitFor(4);
      expect(order.slice(2)).toEqual(['/contract', '/pay']);
    } finally {
      await both.close();
    }
  });

  it('rejects unknown switches and bad values; reset clears state, log and faults', async () => {
    expect((await sandboxJson(sut.sb.url, '/sandbox/faults', { nope: 1 })).status).toBe(400);
    expect((await sandboxJson(sut.sb.url, '/sandbox/faults', { systemError: -1 })).status).toBe(400);
    const body = h5Body(sut.fx.direct, sut.rx.url('/n'));
    await v3(sut.sb.url, sut.fx.direct, { path: H5, body });
    await sut.sb.faults.systemError(5);
    await sandboxJson(sut.sb.url, '/sandbox/reset', {});
    expect((await sandboxJson(sut.sb.url, '/sandbox/orders')).json).toEqual([]);
    expect((await sandboxJson(sut.sb.url, '/sandbox/notifications')).json).toEqual([]);
    expect((await sandboxJson(sut.sb.url, '/sandbox/faults')).json.systemError).toBe(0);
    expect((await v3(sut.sb.url, sut.fx.direct, { path: H5, body })).status).toBe(200);
  });

  it('close() cancels pending re-sends', async () => {
    const own = await startSandbox({ config: sut.fx.config, timeScale: 1 });
    const dead = await Receiver.start(() => ({ status: 500 }));
    try {
      const created = await v3(own.url, sut.fx.direct, { path: H5, body: h5Body(sut.fx.direct, dead.url('/x')) });
      await sandboxJson(own.url, '/sandbox/act', { url: created.json?.['h5_url'], action: 'pay' });
      await dead.waitFor(1);
      await own.notifications.waitFor((a) => a.target === dead.url('/x'));
      await until(() => own.notifications.pending() === 1);
    } finally {
      await own.close();
      await dead.close();
    }
    expect(own.notifications.pending()).toBe(0);
  });
});
