import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { closeDeduction } from '../../shared/papay';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('close-deduction', async (event: APIGatewayProxyEventV2) =>
  json(200, await closeDeduction(runtime(), pathParameter(event, 'out_trade_no'))),
);
