import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { jsonBody } from '../../shared/http/validation';
import { terminateRepaymentContract } from '../../shared/repayment-contract/terminate';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('terminate-repayment-contract', async (event: APIGatewayProxyEventV2) => {
  const body = jsonBody(event);
  return json(200, await terminateRepaymentContract(runtime(), pathParameter(event, 'out_contract_code'), body));
});
