import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { httpHandler } from '../../shared/http/handler';
import { pathParameter } from '../../shared/http/request';
import { json } from '../../shared/http/responses';
import { jsonBody } from '../../shared/http/validation';
import { sendPreDeductionNotice } from '../../shared/papay';
import { runtime } from '../../shared/runtime/container';

export const handler = httpHandler('send-pre-deduction-notice', async (event: APIGatewayProxyEventV2) =>
  json(200, await sendPreDeductionNotice(runtime(), pathParameter(event, 'contract_id'), jsonBody(event))),
);
