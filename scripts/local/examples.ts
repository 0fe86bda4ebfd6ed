/**
 * The ready-to-paste requests `npm start` prints. Bodies follow the API schemas
 * (shared/<product>/schema.ts); keep them in step when a schema changes.
 */
export interface ExampleContext {
  apiUrl: string;
  sandboxUrl: string;
  token: string;
}

function stamp(): string {
  return new Date().toISOString().replace(/\D/g, '').slice(0, 14);
}

function curl(method: string, url: string, token: string | undefined, body?: unknown): string {
  const lines = [method === 'GET' ? `curl -sS '${url}'` : `curl -sS -X ${method} '${url}'`];
  if (token) lines.push(`  -H "Authorization: Bearer $TOKEN"`);
  if (body !== undefined) {
    lines.push(`  -H 'Content-Type: application/json'`);
    lines.push(`  -d '${JSON.stringify(body)}'`);
  }
  return lines.join(' \\\n');
}

export function exampleRequests({ apiUrl, sandboxUrl, token }: ExampleContext): string {
  const id = stamp();
  const outTradeNo = `H5${id}`;
  const contractCode = `RC${id}`;
  const contractOrderNo = `CO${id}`;
  const sections: [string, string][] = [
    ['the dev token (valid 12 h; `npm run token` prints a new one)', `export TOKEN='${token}'`],
    [
      'create an H5 order (WeChat answers an h5_url: open it to reach the sandbox Pay page)',
      curl('POST', `${apiUrl}/h5-orders`, token, {
        out_trade_no: outTradeNo,
        description: 'Local test order',
        amount: { total: 1 },
        scene_info: { payer_client_ip: '127.0.0.1', h5_info: { type: 'Wap' } },
      }),
    ],
    ['read it back', curl('GET', `${apiUrl}/h5-orders/${outTradeNo}`, token)],
    [
      'presign a credit-repayment contract (service provider; real-name fields are encrypted by the service)',
      curl('POST', `${apiUrl}/repayment-contracts`, token, {
        out_contract_code: contractCode,
        plan_id: 'PLAN_REPAY_001',
        repayment_amount_limit: '100000',
        real_identity: { identity_type: 'REAL_IDENTITY_TYPE_ID_CARD', identity_id: '110101199003074477', real_name: '张三' },
      }),
    ],
    [
      'pay-and-sign (contract order, APIv2)',
      curl('POST', `${apiUrl}/contract-orders`, token, {
        out_trade_no: contractOrderNo,
        body: 'Local membership',
        total_fee: 1,
        spbill_create_ip: '127.0.0.1',
        trade_type: 'MWEB',
        plan_id: 12535,
        contract_code: `CC${id}`,
        request_serial: Number(id.slice(2)),
        contract_display_account: 'local user',
      }),
    ],
    [
      'act as the WeChat user (or open the returned h5_url / redirect_url / mweb_url in a browser): pay the H5 order',
      curl('POST', `${sandboxUrl}/sandbox/act`, undefined, { out_trade_no: outTradeNo, action: 'pay' }),
    ],
    [
      'sign the repayment contract / pay the contract order (actions: pay, cancel, sign, decline, terminate)',
      [
        curl('POST', `${sandboxUrl}/sandbox/act`, undefined, { out_contract_code: contractCode, action: 'sign' }),
        curl('POST', `${sandboxUrl}/sandbox/act`, undefined, { out_trade_no: contractOrderNo, action: 'pay' }),
      ].join('\n'),
    ],
    [
      'refund part of the paid H5 order (APIv3), then let the sandbox settle it (refund-success | refund-abnormal | refund-close)',
      [
        curl('POST', `${apiUrl}/refunds`, token, { out_trade_no: outTradeNo, out_refund_no: `RF${id}`, amount: { refund: 1 } }),
        curl('POST', `${sandboxUrl}/sandbox/act`, undefined, { out_refund_no: `RF${id}`, action: 'refund-success' }),
        curl('GET', `${apiUrl}/refunds/RF${id}`, token),
      ].join('\n'),
    ],
    ['what the sandbox delivered to our notify routes', `curl -sS '${sandboxUrl}/sandbox/notifications'`],
  ];
  return sections.map(([title, text]) => `# ${title}\n${text}`).join('\n\n');
}
