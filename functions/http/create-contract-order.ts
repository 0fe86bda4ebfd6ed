import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createContractOrder } from '../../shared/contract-order';
import { httpHandler } from '../../shared/http/handler';
import { rawBody } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { parseJson } from '../../shared/http/validation';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('create-contract-order', async (event: APIGatewayProxyEventV2) => {
  const { answer, replayed } = await createContractOrder(runtime(), parseJson(rawBody(event)));
  return json(201, answer, replayed ? { 'idempotent-replayed': 'true' } : {});
});
