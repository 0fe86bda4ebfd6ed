import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { getPapayContractByCode } from '../../shared/papay';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('get-papay-contract-by-code', async (event: APIGatewayProxyEventV2) =>
  json(200, await getPapayContractByCode(runtime(), pathParameter(event, 'contract_code'))),
);
