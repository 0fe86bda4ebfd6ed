import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { getSchedule } from '../../shared/repayment-contract/repayments';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('get-repayment-schedule', async (event: APIGatewayProxyEventV2) =>
  json(200, await getSchedule(runtime(), pathParameter(event, 'out_contract_code'), pathParameter(event, 'out_record_id'))),
);
