import type { Fingerprint } from '../store/claims';
import type { MerchantContext } from '../merchant/context';
import { encryptSensitive, type EncryptionKey } from '../wechatpay';
import { maskName } from './identity';
import type { CreateRepaymentContractInput } from './schema';

export const PRESIGN_PATH = '/v3/credit-repayment/partner/contracts/h5-presign';
export const CONTRACT_NOTIFY_PATH = '/notify/repayment-contract';
export const REPAYMENT_NOTIFY_PATH = '/notify/repayment';

export const contractQueryPath = (outContractCode: string) =>
  `/v3/credit-repayment/partner/contracts/${encodeURIComponent(outContractCode)}`;
export const deductOrderQueryPath = (outTradeNo: string) =>
  `/v3/credit-repayment/partner/deduct-orders/${encodeURIComponent(outTradeNo)}`;

/**
 * The presign exactly as WeChat will read it, but with the real-name fields still in plain text: defaults filled
 * (appid, display_name), our notify URLs in place, keys in a fixed order. Two requests that mean the same thing
 * normalise to the same JSON, which is what the fingerprint is taken over. It lives only in memory.
 */
export interface NormalizedPresign {
  appid: string;
  plan_id: string;
  out_contract_code: string;
  display_name: string;
  contract_notify_url: string;
  repayment_day?: number;
  repayment_amount_limit: string;
  sub_mchid?: string;
  sub_appid?: string;
  real_identity: { identity_type: string; identity_id: string; real_name: string };
  trade_info?: { out_trade_no: string; deduct_amount: string; description?: string; attach?: string; notify_url: string };
  jump_info?: { jump_appid: string };
}

export function normalizePresign(
  input: CreateRepaymentContractInput,
  merchant: Pick<MerchantContext, 'appid'>,
  publicBaseUrl: string,
): NormalizedPresign {
  const { real_identity: identity, trade_info: trade } = input;
  return {
    appid: input.appid ?? merchant.appid,
    plan_id: input.plan_id,
    out_contract_code: input.out_contract_code,
    display_name: input.display_name ?? maskName(identity.real_name),
    contract_notify_url: `${publicBaseUrl}${CONTRACT_NOTIFY_PATH}`,
    ...(input.repayment_day !== undefined ? { repayment_day: input.repayment_day } : {}),
    repayment_amount_limit: input.repayment_amount_limit,
    ...(input.sub_mchid !== undefined ? { sub_mchid: input.sub_mchid } : {}),
    ...(input.sub_appid !== undefined ? { sub_appid: input.sub_appid } : {}),
    real_identity: { identity_type: identity.identity_type, identity_id: identity.identity_id, real_name: identity.real_name },
    ...(trade
      ? {
          trade_info: {
            out_trade_no: trade.out_trade_no,
            deduct_amount: trade.deduct_amount,
            ...(trade.description !== undefined ? { description: trade.description } : {}),
            ...(trade.attach !== undefined ? { attach: trade.attach } : {}),
            notify_url: `${publicBaseUrl}${REPAYMENT_NOTIFY_PATH}`,
          },
        }
      : {}),
    // `jump_info: {}` asks for nothing: it is the same request as no jump_info at all.
    ...(input.jump_info?.jump_appid !== undefined ? { jump_info: { jump_appid: input.jump_info.jump_appid } } : {}),
  };
}

/**
 * Keyed HMAC (the merchant's fingerprint key) over the normalised PLAIN request. It cannot be taken over the body
 * we send: RSA-OAEP is randomised, so the same request encrypts differently every time. Being keyed, it reveals
 * nothing about the name or ID number to whoever reads the table.
 */
export function presignFingerprint(normalized: NormalizedPresign, merchant: Pick<MerchantContext, 'fingerprint'>): Fingerprint {
  return merchant.fingerprint(`repayment-contract/presign/v1\n${JSON.stringify(normalized)}`);
}

/**
 * The bytes sent to WeChat: the real-name fields RSA-OAEP encrypted to the merchant's WeChat Pay public key, whose
 * id goes out as `Wechatpay-Serial`. Built per call, never stored or logged.
 */
export function presignBody(
  normalized: NormalizedPresign,
  encryptionKey: EncryptionKey,
): { body: string; wechatpaySerial: string } {
  const idNumber = encryptSensitive(normalized.real_identity.identity_id, encryptionKey);
  const name = encryptSensitive(normalized.real_identity.real_name, encryptionKey);
  const body = {
    ...normalized,
    real_identity: {
      identity_type: normalized.real_identity.identity_type,
      identity_id: idNumber.ciphertext,
      real_name: name.ciphertext,
    },
  };
  return { body: JSON.stringify(body), wechatpaySerial: idNumber.serial };
}
export const TERMINATE_PATH = '/v3/credit-repayment/partner/contracts/terminate';
