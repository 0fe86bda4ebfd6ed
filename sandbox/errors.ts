/** APIv3 error answers `{code, message, detail?}` with WeChat's status codes (docs/wechatpay.md). */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }

  toBody(): Record<string, unknown> {
    const body: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.detail !== undefined) body['detail'] = this.detail;
    return body;
  }
}

export type ParamLocation = 'body' | 'query' | 'path' | 'header';

/** `/body/amount/total` style source pointer used in WeChat's PARAM_ERROR messages. */
function pointer(location: ParamLocation, field: string): string {
  return `/${location}/${field.replace(/\./g, '/').replace(/\[(\d+)\]/g, '/$1')}`;
}

export function paramError(
  field: string,
  value: unknown,
  issue: string,
  options: { location?: ParamLocation; label?: string } = {},
): ApiError {
  const location = options.location ?? 'body';
  const label = options.label ?? field;
  const detail: Record<string, unknown> = { field, issue, location };
  if (value !== undefined) detail['value'] = value;
  return new ApiError(400, 'PARAM_ERROR', `输入源“${pointer(location, field)}”映射到值字段“${label}”${issue}`, detail);
}

export const invalidRequest = (message: string, detail?: Record<string, unknown>): ApiError =>
  new ApiError(400, 'INVALID_REQUEST', message, detail);

export const noAuth = (message = '商户无权限'): ApiError => new ApiError(403, 'NO_AUTH', message);

export const systemError = (): ApiError => new ApiError(500, 'SYSTEM_ERROR', '系统异常，请稍后重试');
