import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createContractOrder } from '../../shared/contract-order';
import { httpHandler } from '../../shared/http/handler';
import { json } from '../../shared/http/responses';
import { jsonBody } from '../../shared/http/validation';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('create-contract-order', async (event: APIGatewayProxyEventV2) => {
  // The body first: bad input is a 400/415 even when the runtime cannot be built.
  const body = jsonBody(event);
  const { answer, replayed } = await createContractOrder(runtime(), body);
  return json(201, answer, replayed ? { 'idempotent-replayed': 'true' } : {});
});
