import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { closeH5Order } from '../../shared/h5-payment';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('close-h5-order', async (event: APIGatewayProxyEventV2) =>
  json(200, await closeH5Order(runtime(), pathParameter(event, 'out_trade_no'))),
);
