import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { jsonBody } from '../../shared/http/validation';
import { createRepayment } from '../../shared/repayment-contract/repayments';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('create-repayment', async (event: APIGatewayProxyEventV2) => {
  const body = jsonBody(event);
  const r = await createRepayment(runtime(), pathParameter(event, 'out_contract_code'), body);
  return json(201, r.repayment, r.replayed ? { 'idempotent-replayed': 'true' } : {});
});
