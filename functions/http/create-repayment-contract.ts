import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { presignRepaymentContract } from '../../shared/repayment-contract';
import { httpHandler } from '../../shared/http/handler';
import { rawBody } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { parseJson } from '../../shared/http/validation';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('create-repayment-contract', async (event: APIGatewayProxyEventV2) => {
  const { answer, replayed } = await presignRepaymentContract(runtime(), parseJson(rawBody(event)), { source: 'http' });
  return json(201, answer, replayed ? { 'idempotent-replayed': 'true' } : {});
});
