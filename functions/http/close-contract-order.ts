import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { closeContractOrder } from '../../shared/contract-order';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('close-contract-order', async (event: APIGatewayProxyEventV2) =>
  json(200, await closeContractOrder(runtime(), pathParameter(event, 'out_trade_no'))),
);
