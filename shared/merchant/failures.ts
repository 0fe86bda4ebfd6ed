import {
  ResponseVerificationError,
  WechatPayApiError,
  WechatPayTransportError,
  WechatPayV2ReturnError,
} from '../wechatpay';
import { ServiceError, unavailable } from '../http/errors';

/** Whether WeChat may not have acted on the call (so its outcome is unknown and a retry is the way to learn it). */
export function isTransient(error: unknown): boolean {
  if (error instanceof WechatPayTransportError || error instanceof ResponseVerificationError) return true;
  if (error instanceof WechatPayApiError) return error.status >= 500 || error.status === 429;
  return false;
}

/**
 * Turns a failed WeChat call into what our caller should see. WeChat's own code, message and detail are passed
 * through for definitive rejections so a merchant can act on them; `conflictCodes` are the codes that mean "this
 * business key is used up" for the API at hand.
 */
export function toServiceError(error: unknown, conflictCodes: readonly string[] = []): ServiceError {
  if (isTransient(error)) return unavailable('WeChat Pay did not give a usable answer; send the same request again');
  if (error instanceof WechatPayApiError) {
    const wechatpay = { status: error.status, code: error.code, message: error.message, detail: error.detail };
    if (conflictCodes.includes(error.code)) return new ServiceError(409, error.code, error.message, { wechatpay });
    if (error.status === 401) {
      // WeChat refused our signature: our credentials are wrong, not the caller's request.
      return new ServiceError(502, 'WECHATPAY_SIGN_ERROR', 'WeChat Pay rejected the merchant signature', { wechatpay });
    }
    return new ServiceError(422, error.code || 'WECHATPAY_REJECTED', error.message, { wechatpay });
  }
  if (error instanceof WechatPayV2ReturnError) {
    return new ServiceError(502, 'WECHATPAY_RETURN_FAIL', error.message);
  }
  throw error;
}
