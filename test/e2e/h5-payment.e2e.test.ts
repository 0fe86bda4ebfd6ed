import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { freePort } from '../../scripts/local/dynamodb';
import { startOffline, type Offline } from '../../scripts/local/offline';
import { localStack, testToken } from '../support/env';

/**
 * The product as a merchant runs it: serverless-offline (esbuild bundles, the jose authorizer, real HTTP),
 * DynamoDB Local, the sandbox, and a person paying in a real browser.
 */
const CHROMIUM = '/usr/bin/chromium';

let offline: Offline;
let api: string;
let workFolder: string;

beforeAll(async () => {
  const stack = localStack();
  const httpPort = await freePort();
  workFolder = `.esbuild-e2e-${httpPort}`;
  offline = await startOffline({
    root: process.cwd(),
    httpPort,
    lambdaPort: await freePort(),
    env: { ...stack.env, PUBLIC_BASE_URL: `http://127.0.0.1:${httpPort}`, ESBUILD_WORK_FOLDER: workFolder },
  });
  api = offline.url;
}, 180_000);

afterAll(async ({}, suite) => {
  if (suite.tasks.some((t) => t.result?.state === 'fail')) console.error(offline?.output().slice(-6000));
  await offline?.stop();
  if (workFolder) rmSync(workFolder, { recursive: true, force: true });
});

const order = () => ({
  out_trade_no: `E2E${randomBytes(8).toString('hex')}`,
  description: '端到端测试商品',
  amount: { total: 1999 },
  scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } },
});

async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

describe('merchant API through serverless-offline', () => {
  it('lets nothing reach a handler unauthenticated: no token 401, bad or under-scoped 403', async () => {
    expect((await call('POST', '/h5-orders', { body: order() })).status).toBe(401);
    expect((await call('POST', '/h5-orders', { token: 'not.a.jwt', body: order() })).status).toBe(403);
    const readOnly = await testToken({ scope: 'payments:read' });
    expect((await call('POST', '/h5-orders', { token: readOnly, body: order() })).status).toBe(403);
    const expired = await testToken({ expiresIn: '2 minutes ago' });
    expect((await call('GET', '/h5-orders/E2E0000000', { token: expired })).status).toBe(403);
  });

  it('creates an order, replays it, refuses a changed body, and validates input', async () => {
    const token = await testToken();
    const body = order();
    const created = await call('POST', '/h5-orders', { token, body });
    expect(created.status).toBe(201);
    expect(created.body.h5_url).toContain(new URL(localStack().sandboxUrl).host);
    const again = await call('POST', '/h5-orders', { token, body });
    expect(again).toMatchObject({ status: 201, body: { h5_url: created.body.h5_url } });
    expect((await call('POST', '/h5-orders', { token, body: { ...body, description: 'changed' } })).status).toBe(409);
    const bad = await call('POST', '/h5-orders', { token, body: { ...body, amount: { total: -1 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('amount.total');
  });

  it.skipIf(!existsSync(CHROMIUM))('create → open h5_url in a browser → click Pay → notification → GET shows SUCCESS', async () => {
    const token = await testToken();
    const body = order();
    const created = await call('POST', '/h5-orders', { token, body });
    expect(created.status).toBe(201);

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      const page = await browser.newPage();
      await page.goto(created.body.h5_url);
      await expect.poll(() => page.textContent('body')).toContain('19.99');
      await page.getByRole('button', { name: /pay|支付/i }).first().click();
      await page.waitForLoadState();
    } finally {
      await browser?.close();
    }

    await expect
      .poll(async () => (await call('GET', `/h5-orders/${body.out_trade_no}`, { token })).body.state, { timeout: 15_000, interval: 250 })
      .toBe('SUCCESS');
    const paid = await call('GET', `/h5-orders/${body.out_trade_no}`, { token });
    expect(paid.body).toMatchObject({ state: 'SUCCESS', amount: { total: 1999 } });
    expect(paid.body.transaction_id).toBeTruthy();
  });
});
