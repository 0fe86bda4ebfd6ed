import document from '../../docs/openapi.json';
import { DOCS_PAGE } from '../../shared/http/docs-page';

/**
 * `GET /openapi.json` and `GET /docs`: the committed OpenAPI document (bundled, nothing read at run time) and a
 * dependency-free page that renders it. Public, like the document itself: no merchant data, no secrets.
 */
const body = JSON.stringify(document);

export const handler = async (event: { rawPath?: string }) => {
  if (event.rawPath === '/docs') {
    return { statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=300' }, body: DOCS_PAGE };
  }
  return { statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'max-age=300' }, body };
};
