import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { json } from '../../shared/http/responses';
import { jsonBody } from '../../shared/http/validation';
import { createDeduction } from '../../shared/papay';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('create-deduction', async (event: APIGatewayProxyEventV2) => {
  const { deduction, replayed } = await createDeduction(runtime(), jsonBody(event));
  return json(201, deduction, replayed ? { 'idempotent-replayed': 'true' } : {});
});
