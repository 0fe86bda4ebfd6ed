import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { getRefund } from '../../shared/refund';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('get-refund', async (event: APIGatewayProxyEventV2) =>
  json(200, await getRefund(runtime(), pathParameter(event, 'out_refund_no'))),
);
