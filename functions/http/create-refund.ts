import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { json } from '../../shared/http/responses';
import { jsonBody } from '../../shared/http/validation';
import { createRefund } from '../../shared/refund';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('create-refund', async (event: APIGatewayProxyEventV2) => {
  const { refund, replayed } = await createRefund(runtime(), jsonBody(event));
  return json(201, refund, replayed ? { 'idempotent-replayed': 'true' } : {});
});
