import { existsSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { freePort } from '../../scripts/local/dynamodb';
import { startOffline, type Offline } from '../../scripts/local/offline';
import { offsetToBeijingHour } from '../../sandbox/clock';
import { startSandbox, type RunningSandbox } from '../../sandbox/index';
import { wechatPayClient } from '../../client';
import { localStack, testToken } from '../support/env';
import { checkResponse } from '../support/openapi';

/**
 * The product as a merchant runs it: serverless-offline (esbuild bundles, the jose authorizer, real HTTP, the
 * Lambda invoke API for the queue consumer), DynamoDB Local, the sandbox, and a person in a real browser.
 * One offline instance serves all three products: it is the slow part to start.
 */
const CHROMIUM = '/usr/bin/chromium';

let offline: Offline;
let sandbox: RunningSandbox;
/** How far business time (ours and the sandbox's) stands ahead of the wall clock. */
let offsetSeconds = 0;
let api: string;
let lambdaApi: string;
let workFolder: string;

beforeAll(async () => {
  const stack = localStack();
  const httpPort = await freePort();
  const lambdaPort = await freePort();
  workFolder = `.esbuild-e2e-${httpPort}`;
  lambdaApi = `http://127.0.0.1:${lambdaPort}`;
  // A sandbox of its own (same keys) whose business clock, like the stack's, stands at the next 10:00 Beijing:
  // papay takes deductions 07:00-22:00 only, and this file must not depend on the hour it runs at.
  sandbox = await startSandbox({ config: stack.sandboxConfig as never });
  offsetSeconds = Math.round(offsetToBeijingHour(Date.now()) / 1000);
  await fetch(`${sandbox.url}/sandbox/time`, { method: 'POST', body: JSON.stringify({ advance_seconds: offsetSeconds }) });
  offline = await startOffline({
    root: process.cwd(),
    httpPort,
    lambdaPort,
    env: {
      ...stack.env,
      WECHATPAY_BASE_URL: sandbox.url,
      WECHATPAY_BACKUP_BASE_URL: sandbox.backupUrl,
      ...(sandbox.tlsUrl ? { WECHATPAY_MTLS_BASE_URL: sandbox.tlsUrl } : {}),
      LOCAL_CLOCK_OFFSET_SECONDS: String(offsetSeconds),
      PUBLIC_BASE_URL: `http://127.0.0.1:${httpPort}`,
      ESBUILD_WORK_FOLDER: workFolder,
      // Partial refunds of one order back to back (WeChat's 1-minute interval is covered by the integration tests).
      REFUND_MIN_INTERVAL_SECONDS: '0',
    },
  });
  api = offline.url;
}, 180_000);

afterAll(async ({}, suite) => {
  if (suite.tasks.some((t) => t.result?.state === 'fail')) console.error(offline?.output().slice(-6000));
  await offline?.stop();
  await sandbox?.close();
  if (workFolder) rmSync(workFolder, { recursive: true, force: true });
});

const order = () => ({
  out_trade_no: `E2E${randomBytes(8).toString('hex')}`,
  description: '端到端测试商品',
  amount: { total: 1999 },
  scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } },
});

const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${randomBytes(4).toString('hex')}`.toUpperCase();

async function act(body: Record<string, unknown>) {
  const response = await fetch(`${sandbox.url}/sandbox/act`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.status;
}

async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

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
  const body = text ? (JSON.parse(text) as Record<string, any>) : {};
  // Every answer of the running service must be one docs/openapi.json documents.
  checkResponse(method, path, response.status, response.headers.get('content-type'), text ? body : undefined);
  return { status: response.status, body };
}

/** The typed client merchants use (client/), its answers checked against the document like every other. */
const validatingFetch: typeof fetch = async (input, init) => {
  const request = input instanceof Request ? input : new Request(input, init);
  const response = await fetch(request);
  const text = await response.clone().text();
  checkResponse(request.method, request.url, response.status, response.headers.get('content-type'), text ? JSON.parse(text) : undefined);
  return response;
};
const typedClient = () => wechatPayClient({ baseUrl: api, token: () => testToken(), fetch: validatingFetch });

describe('H5 payments through serverless-offline', () => {
  it('lets nothing reach a handler unauthenticated, and says why as problem+json with a distinct code', async () => {
    const refused = async (status: number, code: string, ...args: Parameters<typeof call>) => {
      const response = await fetch(`${api}${args[1]}`, {
        method: args[0],
        headers: { 'content-type': 'application/json', ...(args[2]?.token !== undefined ? { authorization: `Bearer ${args[2].token}` } : {}) },
        ...(args[2]?.body !== undefined ? { body: JSON.stringify(args[2].body) } : {}),
      });
      expect(response.status, code).toBe(status);
      expect(response.headers.get('content-type'), code).toMatch(/^application\/problem\+json/);
      expect(await response.json(), code).toMatchObject({ status, code });
    };
    await refused(401, 'TOKEN_MISSING', 'POST', '/h5-orders', { body: order() });
    await refused(401, 'TOKEN_INVALID', 'POST', '/h5-orders', { token: 'not.a.jwt', body: order() });
    await refused(403, 'INSUFFICIENT_SCOPE', 'POST', '/h5-orders', { token: await testToken({ scope: 'payments:read' }), body: order() });
    await refused(401, 'TOKEN_EXPIRED', 'GET', '/h5-orders/E2E0000000', { token: await testToken({ expiresIn: '2 minutes ago' }) });
    // serverless-offline's override header would replace the verdict: refused even with a forged allow.
    const forged = await fetch(`${api}/h5-orders/E2E0000000`, {
      headers: { 'sls-offline-authorizer-override': JSON.stringify({ lambda: { verdict: 'allow', sub: 'x', scopes: 'payments:read' } }) },
    });
    expect(forged.status).toBe(401);
    // A body that is not JSON is 415 before anything else.
    const form = await fetch(`${api}/h5-orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${await testToken()}` },
      body: 'a=1',
    });
    expect(form.status).toBe(415);
  });

  it('creates an order, replays it, refuses a changed body, and validates input', async () => {
    const token = await testToken();
    const body = order();
    const created = await call('POST', '/h5-orders', { token, body });
    expect(created.status).toBe(201);
    expect(created.body.h5_url).toContain(new URL(sandbox.url).host);
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
      browser = await launchBrowser();
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

const contractBody = (withTrade: boolean) => ({
  plan_id: 'PLAN_REPAY_001',
  out_contract_code: unique('E2EC'),
  repayment_day: 8,
  repayment_amount_limit: '200000',
  real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '11010519491231002X', real_name: '端木赐' },
  ...(withTrade ? { trade_info: { out_trade_no: unique('E2ER'), deduct_amount: '1500', description: '首期还款' } } : {}),
});

describe('credit-repayment contracts through serverless-offline', () => {
  it.each([true, false])('presign over HTTP (first repayment: %s) → Sign → notifications → GET shows SIGNED', async (withTrade) => {
    const token = await testToken();
    const body = contractBody(withTrade);
    expect((await call('POST', '/repayment-contracts', { token: await testToken({ scope: 'payments:write' }), body })).body).toMatchObject({
      status: 403,
      code: 'INSUFFICIENT_SCOPE',
      required_scope: 'contracts:write',
    });
    const created = await call('POST', '/repayment-contracts', { token, body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ out_contract_code: body.out_contract_code, state: 'PRESIGNED' });
    expect(await act({ url: created.body.redirect_url, action: 'sign' })).toBe(200);
    const path = `/repayment-contracts/${body.out_contract_code}`;
    await expect
      .poll(async () => {
        const view = (await call('GET', path, { token })).body;
        return view.state === 'SIGNED' && (!withTrade || view.first_repayment?.state === 'PAY_SUCCESS');
      }, { timeout: 15_000, interval: 250 })
      .toBe(true);
    const signed = (await call('GET', path, { token })).body;
    expect(signed.contract_id).toBeTruthy();
    expect(JSON.stringify(signed)).not.toContain('端木赐');
  });

  it.skipIf(!existsSync(CHROMIUM))('presign → sign in the browser → two scheduled repayments → terminate → GET shows the whole history', async () => {
    const token = await testToken();
    const body = { ...contractBody(true), sub_mchid: '1900000109' };
    const created = await call('POST', '/repayment-contracts', { token, body });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await browser.newPage();
      await page.goto(created.body.redirect_url);
      await page.getByRole('button', { name: /sign|签约/i }).first().click();
      await page.waitForLoadState();
    } finally {
      await browser?.close();
    }
    const path = `/repayment-contracts/${body.out_contract_code}`;
    await expect.poll(async () => (await call('GET', path, { token })).body.state, { timeout: 15_000, interval: 250 }).toBe('SIGNED');
    const day = (n: number) => new Date(Date.now() + offsetSeconds * 1000 + 8 * 3600 * 1000 + n * 86_400_000).toISOString().slice(0, 10);
    const repaid: string[] = [];
    for (const [n, amount] of [[2, '3000'], [5, '4000']] as const) {
      const recordId = unique('E2ES');
      const scheduled = await call('POST', `${path}/schedules`, { token, body: { out_record_id: recordId, repayment_amount: amount, repayment_date: day(n) } });
      expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(201);
      const no = unique('E2EP');
      const started = await call('POST', `${path}/repayments`, { token, body: { out_trade_no: no, out_record_id: recordId, deduct_amount: amount, description: '分期还款' } });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      expect(await act({ out_trade_no: no, action: 'repay-success' })).toBe(200);
      await expect.poll(async () => (await call('GET', `${path}/repayments/${no}`, { token })).body.state, { timeout: 15_000, interval: 250 }).toBe('PAY_SUCCESS');
      repaid.push(no);
    }
    const ended = await call('POST', `${path}/terminate`, { token, body: { remark: '贷款已结清' } });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    const history = (await call('GET', path, { token })).body;
    expect(history).toMatchObject({ state: 'TERMINATED', contract_terminated_mode: 'TERMINATION_MODE_BY_MERCHANT', first_repayment: { state: 'PAY_SUCCESS' } });
    expect(history.repayments.map((r: { out_trade_no: string; state: string }) => [r.out_trade_no, r.state])).toEqual(repaid.map((no) => [no, 'PAY_SUCCESS']));
  });

  it('presign from an SQS event through the Lambda invoke API, redelivered → one presign', async () => {
    const token = await testToken();
    const body = contractBody(false);
    const record = (messageId: string) => ({
      messageId,
      receiptHandle: `rh-${messageId}`,
      body: JSON.stringify(body),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'E2E', ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:presign',
      awsRegion: 'us-east-1',
    });
    const invoke = async (messageId: string) => {
      const response = await fetch(`${lambdaApi}/2015-03-31/functions/wechatpay-serverless-local-presignRepaymentContractFromQueue/invocations`, {
        method: 'POST',
        body: JSON.stringify({ Records: [record(messageId)] }),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as { batchItemFailures: unknown[] };
    };
    expect(await invoke('m-1')).toEqual({ batchItemFailures: [] });
    expect(await invoke('m-1')).toEqual({ batchItemFailures: [] }); // redelivery
    const view = (await call('GET', `/repayment-contracts/${body.out_contract_code}`, { token })).body;
    expect(view.state).toBe('PRESIGNED');
    // WeChat saw one presign: a second would have been refused as a reused code and the contract REJECTED.
    const sandboxContracts = (await (await fetch(`${sandbox.url}/sandbox/contracts`)).json()) as { repayment: Array<{ out_contract_code: string }> };
    expect(sandboxContracts.repayment.filter((c) => c.out_contract_code === body.out_contract_code)).toHaveLength(1);
    expect(await act({ url: view.redirect_url, action: 'sign' })).toBe(200);
    await expect
      .poll(async () => (await call('GET', `/repayment-contracts/${body.out_contract_code}`, { token })).body.state, { timeout: 15_000, interval: 250 })
      .toBe('SIGNED');
  });
});

describe('pay-and-sign contract orders through serverless-offline', () => {
  const orderBody = (tradeType: 'APP' | 'MWEB') => ({
    out_trade_no: unique('E2EP'),
    body: '会员月卡',
    total_fee: 2500,
    spbill_create_ip: '203.0.113.9',
    trade_type: tradeType,
    plan_id: 12535,
    contract_code: unique('E2EK'),
    request_serial: Date.now(),
    contract_display_account: '端到端用户',
  });

  it.skipIf(!existsSync(CHROMIUM))('MWEB: mweb_url in a browser → Pay → both notifications → GET shows SUCCESS and SIGNED', async () => {
    const token = await testToken();
    const body = orderBody('MWEB');
    const created = await call('POST', '/contract-orders', { token, body });
    expect(created.status).toBe(201);
    expect(created.body.mweb_url).toBeTruthy();
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await browser.newPage();
      await page.goto(created.body.mweb_url);
      await page.getByRole('button', { name: /pay|支付/i }).first().click();
      await page.waitForLoadState();
    } finally {
      await browser?.close();
    }
    await expect
      .poll(async () => {
        const view = (await call('GET', `/contract-orders/${body.out_trade_no}`, { token })).body;
        return `${view.payment?.state}/${view.contract?.state}`;
      }, { timeout: 15_000, interval: 250 })
      .toBe('SUCCESS/SIGNED');
  });

  it('APP: signed pay_params for the cashier, the same request replayed, a reused contract code refused', async () => {
    const token = await testToken();
    const body = orderBody('APP');
    const created = await call('POST', '/contract-orders', { token, body });
    expect(created.status).toBe(201);
    expect(created.body.pay_params).toMatchObject({ prepayid: created.body.prepay_id, package: 'Sign=WXPay' });
    expect((await call('POST', '/contract-orders', { token, body })).body.prepay_id).toBe(created.body.prepay_id);
    const reused = await call('POST', '/contract-orders', { token, body: { ...orderBody('APP'), contract_code: body.contract_code } });
    expect(reused.status).toBe(409);
  });
});

describe('the OpenAPI document through serverless-offline', () => {
  it('GET /openapi.json is the committed document, without a token', async () => {
    const response = await fetch(`${api}/openapi.json`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(JSON.parse(readFileSync('docs/openapi.json', 'utf8')));
  });

  it.skipIf(!existsSync(CHROMIUM))('GET /docs renders every operation in a browser', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await browser.newPage();
      await page.goto(`${api}/docs`);
      await page.locator('[data-operation="createDeduction"]').waitFor();
      const operations = await page.locator('[data-operation]').count();
      const documented = Object.values(JSON.parse(readFileSync('docs/openapi.json', 'utf8')).paths as Record<string, object>).reduce((n, item) => n + Object.keys(item).length, 0);
      expect(operations).toBe(documented);
      expect(await page.locator('[data-operation="createDeduction"]').innerText()).toContain('deductions:write');
    } finally {
      await browser?.close();
    }
  });
});

describe('papay through serverless-offline', () => {
  it.skipIf(!existsSync(CHROMIUM))(
    'MWEB pay-and-sign in the browser → contract SIGNED → deduction → notification → SUCCESS → refund → terminate → a second deduction refused',
    async () => {
      const token = await testToken();
      const body = {
        out_trade_no: unique('E2EP'),
        body: '会员月卡',
        total_fee: 2500,
        spbill_create_ip: '203.0.113.9',
        trade_type: 'MWEB',
        plan_id: 12535,
        contract_code: unique('E2EK'),
        request_serial: Date.now(),
        contract_display_account: '端到端用户',
      };
      const created = await call('POST', '/contract-orders', { token, body });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      let browser: Browser | undefined;
      try {
        browser = await launchBrowser();
        const page = await browser.newPage();
        await page.goto(created.body.mweb_url);
        await page.getByRole('button', { name: /pay|支付/i }).first().click();
        await page.waitForLoadState();
      } finally {
        await browser?.close();
      }
      let contractId = '';
      await expect
        .poll(async () => {
          const view = (await call('GET', `/contract-orders/${body.out_trade_no}`, { token })).body;
          contractId = view.contract?.contract_id ?? '';
          return view.contract?.state;
        }, { timeout: 15_000, interval: 250 })
        .toBe('SIGNED');
      expect((await call('GET', `/papay-contracts/${contractId}`, { token })).body).toMatchObject({ contract_id: contractId, state: 'SIGNED', contract_code: body.contract_code });

      // Through the typed client merchants use (client/), generated from the OpenAPI document.
      const client = typedClient();
      const charge = { contract_id: contractId, out_trade_no: unique('E2ED'), total_fee: 990, body: '月卡续费' };
      const deducted = await client.POST('/deductions', { body: charge });
      expect(deducted.response.status, JSON.stringify(deducted.error)).toBe(201);
      expect(deducted.data).toMatchObject({ state: 'ACCEPTED', contract_id: contractId, total_fee: 990 });
      expect(await act({ out_trade_no: charge.out_trade_no, action: 'deduct-success' })).toBe(200);
      const get = () => client.GET('/deductions/{out_trade_no}', { params: { path: { out_trade_no: charge.out_trade_no } } });
      await expect.poll(async () => (await get()).data?.state, { timeout: 15_000, interval: 250 }).toBe('SUCCESS');

      const outRefundNo = unique('E2ER');
      const refund = await call('POST', '/refunds', { token, body: { out_trade_no: charge.out_trade_no, out_refund_no: outRefundNo, amount: { refund: 490 } } });
      expect(refund.status, JSON.stringify(refund.body)).toBe(201);
      expect(await act({ out_refund_no: outRefundNo, action: 'refund-success' })).toBe(200);
      await expect.poll(async () => (await call('GET', `/deductions/${charge.out_trade_no}`, { token })).body.refunded_total, { timeout: 15_000, interval: 250 }).toBe(490);

      const ended = await call('POST', `/papay-contracts/${contractId}/terminate`, { token, body: { reason: '用户申请解约' } });
      expect(ended.status, JSON.stringify(ended.body)).toBe(200);
      expect(ended.body).toMatchObject({ state: 'TERMINATED', termination_mode: '3' });
      const refused = await call('POST', '/deductions', { token, body: { ...charge, out_trade_no: unique('E2ED') } });
      expect(refused).toMatchObject({ status: 409, body: { code: 'CONTRACT_NOT_SIGNED' } });
    },
  );
});

describe('refunds through serverless-offline', () => {
  /** Each refund settles when the tester says so (the shared sandbox's clock is left alone). */
  async function refundTwice(token: string, outTradeNo: string, amounts: [number, number]) {
    const numbers: string[] = [];
    for (const amount of amounts) {
      const outRefundNo = unique('E2ER');
      const res = await call('POST', '/refunds', { token, body: { out_trade_no: outTradeNo, out_refund_no: outRefundNo, amount: { refund: amount } } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ state: 'PROCESSING', amount: { refund: amount } });
      expect(await act({ out_refund_no: outRefundNo, action: 'refund-success' })).toBe(200);
      numbers.push(outRefundNo);
    }
    for (const no of numbers) {
      await expect.poll(async () => (await call('GET', `/refunds/${no}`, { token })).body.state, { timeout: 15_000, interval: 250 }).toBe('SUCCESS');
    }
    return numbers;
  }

  it.skipIf(!existsSync(CHROMIUM))('H5 (APIv3): pay in the browser, refund partly twice, both REFUND.SUCCESS applied, GET shows them', async () => {
    const token = await testToken();
    const body = order();
    const created = await call('POST', '/h5-orders', { token, body });
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await browser.newPage();
      await page.goto(created.body.h5_url);
      await page.getByRole('button', { name: /pay|支付/i }).first().click();
      await page.waitForLoadState();
    } finally {
      await browser?.close();
    }
    await expect.poll(async () => (await call('GET', `/h5-orders/${body.out_trade_no}`, { token })).body.state, { timeout: 15_000, interval: 250 }).toBe('SUCCESS');
    const numbers = await refundTwice(token, body.out_trade_no, [999, 500]);
    const view = (await call('GET', `/h5-orders/${body.out_trade_no}`, { token })).body;
    expect(view.refunded_total).toBe(1499);
    expect(view.refunds.map((r: { out_refund_no: string }) => r.out_refund_no).sort()).toEqual([...numbers].sort());
    const over = await call('POST', '/refunds', { token, body: { out_trade_no: body.out_trade_no, out_refund_no: unique('E2ER'), amount: { refund: 501 } } });
    expect(over).toMatchObject({ status: 409, body: { code: 'REFUND_EXCEEDS_PAID' } });
  });

  it('pay-and-sign (APIv2, mutual TLS): refund partly twice, both req_info notifications applied, GET shows them', async () => {
    const token = await testToken();
    const body = {
      out_trade_no: unique('E2EP'),
      body: '会员月卡',
      total_fee: 2500,
      spbill_create_ip: '203.0.113.9',
      trade_type: 'APP',
      plan_id: 12535,
      contract_code: unique('E2EK'),
      request_serial: Date.now(),
      contract_display_account: '端到端用户',
    };
    expect((await call('POST', '/contract-orders', { token, body })).status).toBe(201);
    expect(await act({ out_trade_no: body.out_trade_no, action: 'pay' })).toBe(200);
    await expect
      .poll(async () => (await call('GET', `/contract-orders/${body.out_trade_no}`, { token })).body.payment?.state, { timeout: 15_000, interval: 250 })
      .toBe('SUCCESS');
    await refundTwice(token, body.out_trade_no, [1000, 1500]);
    const view = (await call('GET', `/contract-orders/${body.out_trade_no}`, { token })).body;
    expect(view.refunded_total).toBe(2500);
    expect(view.refunds).toHaveLength(2);
  });
});
