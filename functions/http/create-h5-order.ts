import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createH5Order } from '../../shared/h5-payment';
import { httpHandler } from '../../shared/http/handler';
import { json } from '../../shared/http/responses';
import { jsonBody } from '../../shared/http/validation';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('create-h5-order', async (event: APIGatewayProxyEventV2) => {
  const { order, replayed } = await createH5Order(runtime(), jsonBody(event));
  return json(201, order, replayed ? { 'idempotent-replayed': 'true' } : {});
});
