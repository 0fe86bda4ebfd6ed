/**
 * A person in headless Chromium: opens h5_url, clicks Pay, the notification reaches the merchant.
 * Needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium); skipped when absent.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSandboxFixture, startSandbox, type RunningSandbox, type SandboxFixture } from '../../../sandbox/index';
import { contractOrder, v3 } from './support/client';
import { Receiver } from './support/receiver';
import { contractOrderFields, h5Body, presignBody } from './support/requests';
import { decryptResource, verifyWechatpaySignature, type V3Envelope } from './support/verify';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`browser.test.ts skipped: ${CHROMIUM} not found (install with: apt-get install -y chromium)`);
}

describe.skipIf(!hasChromium)('sandbox pages in headless Chromium', () => {
  let fx: SandboxFixture;
  let sb: RunningSandbox;
  let rx: Receiver;
  let browser: Browser;

  beforeAll(async () => {
    fx = generateSandboxFixture();
    sb = await startSandbox({ config: fx.config, timeScale: 0.001 });
    rx = await Receiver.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await sb?.close();
    await rx?.close();
  });

  it('H5: open h5_url, click Pay, TRANSACTION.SUCCESS is delivered', async () => {
    const body = h5Body(fx.direct, rx.url('/h5'), { description: '沙箱测试商品', amount: { total: 1234 } });
    const created = await v3(sb.url, fx.direct, { path: '/v3/pay/transactions/h5', body });
    expect(created.status).toBe(200);
    const page = await browser.newPage();
    try {
      await page.goto(String(created.json?.['h5_url']));
      await expect(page.locator('#amount').textContent()).resolves.toBe('¥12.34');
      await expect(page.content()).resolves.toContain('沙箱测试商品');
      await page.click('#pay');
      await page.waitForSelector('#result');
      expect(await page.locator('#result').getAttribute('data-code')).toBe('OK');
    } finally {
      await page.close();
    }
    const [n] = await rx.waitFor(1, '/h5');
    expect(verifyWechatpaySignature({ headers: n!.headers, body: n!.body }, fx.wechatpay.publicKeyId, fx.wechatpay.publicKeyPem)).toBe(true);
    const tx = decryptResource(JSON.parse(n!.body) as V3Envelope, fx.direct.apiV3Key);
    expect(tx).toMatchObject({ out_trade_no: body['out_trade_no'], trade_state: 'SUCCESS', amount: { total: 1234 } });
  });

  it('H5: Cancel leaves the order unpaid', async () => {
    const body = h5Body(fx.direct, rx.url('/h5-cancel'));
    const created = await v3(sb.url, fx.direct, { path: '/v3/pay/transactions/h5', body });
    const page = await browser.newPage();
    try {
      await page.goto(String(created.json?.['h5_url']));
      await page.click('#cancel');
      await page.waitForSelector('#result');
    } finally {
      await page.close();
    }
    const q = await v3(sb.url, fx.direct, { path: `/v3/pay/transactions/out-trade-no/${String(body['out_trade_no'])}?mchid=${fx.direct.mchid}` });
    expect(q.json?.['trade_state']).toBe('NOTPAY');
  });

  it('credit repayment: open redirect_url, click Sign', async () => {
    const res = await v3(sb.url, fx.partner, {
      path: '/v3/credit-repayment/partner/contracts/h5-presign',
      body: presignBody(fx, rx.url('/sign')),
      headers: { 'Wechatpay-Serial': fx.wechatpay.publicKeyId },
    });
    const page = await browser.newPage();
    try {
      await page.goto(String(res.json?.['redirect_url']));
      await expect(page.content()).resolves.toContain('**丰');
      await page.click('#sign');
      await page.waitForSelector('#result');
    } finally {
      await page.close();
    }
    const [n] = await rx.waitFor(1, '/sign');
    expect(JSON.parse(n!.body).event_type).toBe('CREDIT_REPAYMENT.SIGN_CONTRACT');
  });

  it('contractorder MWEB: open mweb_url, click Pay (pays and signs)', async () => {
    const f = contractOrderFields(fx.direct, rx.url('/co-pay'), rx.url('/co-contract'));
    const res = await contractOrder(sb.url, f, fx.direct.apiV2Key as string);
    const page = await browser.newPage();
    try {
      await page.goto(res.fields['mweb_url'] as string);
      await page.click('#pay');
      await page.waitForSelector('#result');
    } finally {
      await page.close();
    }
    await rx.waitFor(1, '/co-pay');
    await rx.waitFor(1, '/co-contract');
  });

  it('an expired link shows the expired page', async () => {
    const created = await v3(sb.url, fx.direct, { path: '/v3/pay/transactions/h5', body: h5Body(fx.direct, rx.url('/x')) });
    sb.clock.advance(301);
    const page = await browser.newPage();
    try {
      const resp = await page.goto(String(created.json?.['h5_url']));
      expect(resp?.status()).toBe(410);
      await page.waitForSelector('#expired');
    } finally {
      sb.clock.advance(-301);
      await page.close();
    }
  });
});
