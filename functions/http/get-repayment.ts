import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { getRepayment } from '../../shared/repayment-contract/repayments';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('get-repayment', async (event: APIGatewayProxyEventV2) =>
  json(200, await getRepayment(runtime(), pathParameter(event, 'out_contract_code'), pathParameter(event, 'out_trade_no'))),
);
