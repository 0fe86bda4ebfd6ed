import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { getRepaymentContract } from '../../shared/repayment-contract';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('get-repayment-contract', async (event: APIGatewayProxyEventV2) =>
  json(200, await getRepaymentContract(runtime(), pathParameter(event, 'out_contract_code'))),
);
