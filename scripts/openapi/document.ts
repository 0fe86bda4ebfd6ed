import { toJsonSchema } from '@valibot/to-json-schema';
import type { GenericSchema } from 'valibot';
import { ROUTE_SCOPES, type ProtectedRouteKey } from '../../shared/auth/scopes';
import { MERCHANT_OPERATIONS, NOTIFY_OPERATIONS, PATH_PARAMETERS } from './operations';
import { problemSchema } from './responses';
import { DOMAIN_EVENT_TYPES, EVENT_SOURCE, EVENT_VERSION } from '../../shared/events/domain-events';

/**
 * The OpenAPI 3.1 document, generated from the request schemas the handlers validate with, the response schemas of
 * scripts/openapi/responses.ts and the route → scope table the authorizer enforces. `npm run openapi` writes it to
 * docs/openapi.json; a test fails when the committed file differs from what this builds.
 */
export const OPENAPI_VERSION = '1.0.0';

type Json = Record<string, unknown>;

/** JSON Schema 2020-12 of a valibot schema; rules JSON Schema cannot say (custom checks) stay in the code. */
function jsonSchema(schema: GenericSchema): Json {
  const { $schema: _dialect, ...rest } = toJsonSchema(schema, { errorMode: 'ignore', target: 'draft-2020-12' }) as Json;
  return rest;
}

const problemStatuses: Record<number, string> = {
  400: 'invalid input; `errors` names each field',
  401: 'no valid bearer token',
  403: 'the token lacks the route\'s scope',
  404: 'not found',
  409: 'the key is taken by a different request, or the resource is in a state that forbids this',
  415: 'not application/json',
  422: 'WeChat Pay refused the request (its code is `code`), or a business rule did',
  429: 'too early or too often; see Retry-After',
  500: 'the service failed or is misconfigured',
  502: 'WeChat Pay answered something unusable',
  503: 'WeChat Pay did not answer; the same request is safe to send again (Retry-After)',
};

function problemResponse(status: number): Json {
  return {
    description: problemStatuses[status] ?? 'error',
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

function pathParameters(path: string): Json[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => {
    const p = PATH_PARAMETERS[name!];
    if (!p) throw new Error(`no description of path parameter ${name}`);
    return { name, in: 'path', required: true, description: p.description, schema: { type: 'string', pattern: p.pattern } };
  });
}

export function buildOpenApiDocument(): Json {
  const schemas: Record<string, Json> = { Problem: jsonSchema(problemSchema) };
  const paths: Record<string, Record<string, Json>> = {};
  const add = (path: string, method: string, operation: Json) => {
    (paths[path] ??= {})[method] = operation;
  };

  for (const [routeKey, op] of Object.entries(MERCHANT_OPERATIONS) as [ProtectedRouteKey, (typeof MERCHANT_OPERATIONS)[ProtectedRouteKey]][]) {
    const [method, path] = routeKey.split(' ') as [string, string];
    schemas[op.success.name] = jsonSchema(op.success.schema);
    if (op.request) schemas[op.request.name] = jsonSchema(op.request.schema);
    const parameters = pathParameters(path);
    const responses: Record<string, Json> = {
      [String(op.success.status)]: {
        description: op.idempotent ? 'created; a replay of the same request answers the stored result with `Idempotent-Replayed: true`' : 'OK',
        ...(op.idempotent ? { headers: { 'Idempotent-Replayed': { schema: { type: 'string', const: 'true' } } } } : {}),
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.success.name}` } } },
      },
    };
    for (const status of [...new Set([400, 401, 403, ...op.errors, 500])].sort()) responses[String(status)] = problemResponse(status);
    add(path, method.toLowerCase(), {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      security: [{ merchantJwt: [ROUTE_SCOPES[routeKey]] }],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.request
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.request.name}` }, example: op.request.example } },
            },
          }
        : {}),
      responses,
    });
  }

  for (const n of NOTIFY_OPERATIONS) {
    add(n.path, 'post', {
      operationId: n.operationId,
      tags: ['WeChat-facing notifications'],
      summary: n.summary,
      description:
        n.format === 'v3'
          ? 'Called by WeChat Pay, not by merchants: an APIv3 notification (Wechatpay-Signature over timestamp, nonce and raw body; AES-256-GCM resource). Unverifiable → 401, changes nothing; applied → 204.'
          : 'Called by WeChat Pay, not by merchants: an APIv2 XML notification signed with the APIv2 key. Unverifiable → 401 with a FAIL ack, changes nothing; applied → 200 with a SUCCESS ack.',
      security: [],
      requestBody: {
        required: true,
        content: n.format === 'v3' ? { 'application/json': { schema: { type: 'object' } } } : { 'text/xml': { schema: { type: 'string' } } },
      },
      responses:
        n.format === 'v3'
          ? { '204': { description: 'applied (or already applied)' }, '401': { description: 'not verifiable: nothing changed' }, '500': { description: 'not stored: WeChat sends it again' } }
          : {
              '200': { description: 'SUCCESS ack', content: { 'text/xml': { schema: { type: 'string' } } } },
              '401': { description: 'not verifiable: nothing changed', content: { 'text/xml': { schema: { type: 'string' } } } },
              '500': { description: 'not stored: WeChat sends it again' },
            },
    });
  }

  add('/openapi.json', 'get', {
    operationId: 'getOpenApiDocument',
    tags: ['Documentation'],
    summary: 'This document',
    security: [],
    responses: { '200': { description: 'the OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
  });

  add('/docs', 'get', {
    operationId: 'getApiReferencePage',
    tags: ['Documentation'],
    summary: 'A page that renders this document',
    security: [],
    responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
  });

  // Domain events (shared/events): delivered on the service's EventBridge bus, documented as webhooks.
  schemas['DomainEvent'] = {
    type: 'object',
    description: `Detail of an EventBridge event (source ${EVENT_SOURCE}, detail-type = type). One per state change, at least once: dedupe on id.`,
    properties: {
      id: { type: 'string', description: 'stable across redeliveries of the same change' },
      type: { type: 'string', enum: [...DOMAIN_EVENT_TYPES] },
      version: { type: 'integer', const: EVENT_VERSION },
      occurred_at: { type: 'string', description: 'RFC 3339, Beijing time (+08:00)' },
      data: {
        type: 'object',
        description: 'business keys, WeChat ids, state and amounts in fen; never names, ID numbers or openids',
        additionalProperties: { type: ['string', 'integer'] },
      },
    },
    required: ['id', 'type', 'version', 'occurred_at', 'data'],
    additionalProperties: false,
  };
  const webhooks = Object.fromEntries(
    DOMAIN_EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          operationId: `event_${type.replace('.', '_')}`,
          summary: `${type} (EventBridge detail-type)`,
          requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/DomainEvent' } } } },
          responses: { '200': { description: 'received' } },
        },
      },
    ]),
  );

  const sortedSchemas = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'WeChat Pay serverless backend',
      version: OPENAPI_VERSION,
      description:
        'Merchant API over WeChat Pay: H5 payments, credit-repayment contracts, pay-and-sign and papay deductions, refunds. Money is integer fen. Errors are application/problem+json with a stable `code`.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: 'http://127.0.0.1:3000', description: 'the local stack (npm start)' }],
    security: [{ merchantJwt: [] }],
    tags: [
      { name: 'H5 payments' },
      { name: 'Credit repayment' },
      { name: 'Pay-and-sign' },
      { name: 'Papay' },
      { name: 'Refunds' },
      { name: 'Reconciliation' },
      { name: 'WeChat-facing notifications', description: 'Called by WeChat Pay; documented so their behaviour is known, never called by merchants.' },
      { name: 'Documentation' },
    ],
    paths: sortedPaths,
    webhooks,
    components: {
      securitySchemes: {
        merchantJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A JWT from the merchant\'s issuer (JWT_ISSUER / JWT_AUDIENCE); `scope` must hold the route\'s scope.',
        },
      },
      schemas: sortedSchemas,
    },
  };
}
