import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { getReconciliation } from '../../shared/reconciliation';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('get-reconciliation', async (event: APIGatewayProxyEventV2) =>
  json(200, await getReconciliation(runtime(), pathParameter(event, 'date'))),
);
