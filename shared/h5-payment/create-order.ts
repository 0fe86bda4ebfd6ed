import { conflict, ServiceError } from '../http/errors';
import { validate } from '../http/validation';
import { toServiceError } from '../merchant/failures';
import type { Runtime } from '../runtime/container';
import { claimedCall } from '../store/claimed-call';
import { keys } from '../store/keys';
import { ResponseVerificationError, type WechatPayV3Client } from '../wechatpay';
import { H5_URL_TTL_MS, isPayable, toView, type H5OrderRecord, type H5OrderView } from './record';
import { createH5OrderSchema } from './schema';
import { H5_ORDER_PATH, h5OrderBody } from './wechat-request';
import { wechatBudgetMs } from '../runtime/invocation';
import { pendingAttributes } from '../store/pending';
import { H5_PENDING_PRODUCT } from './record';

export const H5_NOTIFY_PATH = '/notify/h5-payment';
/** Orders are kept long enough for any refund or dispute window, then expire by TTL. */
const RETENTION_SECONDS = 400 * 24 * 3600;

export interface CreateH5OrderResult {
  order: H5OrderView;
  replayed: boolean;
}

/**
 * `POST /h5-orders`. Same body again → the stored link while it is valid, a fresh one (identical bytes, as WeChat
 * allows) once it expired; a different body for the same out_trade_no → 409 without calling WeChat.
 */
export async function createH5Order(rt: Runtime, body: unknown): Promise<CreateH5OrderResult> {
  const input = validate(createH5OrderSchema, body);
  const merchant = await rt.merchants.get('direct');
  const bytes = h5OrderBody(input, merchant, `${rt.config.publicBaseUrl}${H5_NOTIFY_PATH}`);
  const now = rt.now();

  const { record, replayed } = await claimedCall<H5OrderRecord>({
    claims: rt.claims,
    key: keys.h5Order(input.out_trade_no),
    fingerprint: merchant.fingerprint(bytes),
    initial: {
      kind: 'H5_ORDER',
      out_trade_no: input.out_trade_no,
      mchid: merchant.mchid,
      appid: input.appid ?? merchant.appid,
      amount_total: input.amount.total,
      currency: input.amount.currency ?? 'CNY',
      state: 'CREATING',
      time_expire: input.time_expire,
      expires_at: Math.floor(now / 1000) + RETENTION_SECONDS,
      // Pending from the claim on (an UNCERTAIN create included) until a notification or a query makes it final.
      ...pendingAttributes(H5_PENDING_PRODUCT, now + rt.config.h5QueryAfterSeconds * 1000),
    },
    onRepeat: (existing) =>
      !isPayable(existing.state) || (existing.h5_url_expires_at ?? 0) > rt.now() + 5_000 ? 'replay' : 'renew',
    onConflict: () =>
      conflict('OUT_TRADE_NO_USED', `out_trade_no ${input.out_trade_no} was already used for a different order`),
    onBusy: () => new ServiceError(409, 'REQUEST_IN_PROGRESS', 'the same order is being created; retry shortly', { retryAfterSeconds: 1 }),
    call: async () => {
      // Counted from before the call: WeChat's link cannot be younger than that, so ours never outlives it.
      const started = rt.now();
      const h5Url = await requestH5Url(merchant.v3, bytes);
      return {
        fields: { h5_url: h5Url, h5_url_expires_at: started + H5_URL_TTL_MS },
        // A renewal leaves an order that moved on (paid while we asked) where it is; toView then shows no link.
        advance: { to: 'NOTPAY', from: ['CREATING', 'NOTPAY'] },
      };
    },
  });
  return { order: toView(record, rt.now()), replayed };
}

async function requestH5Url(client: WechatPayV3Client, bytes: string): Promise<string> {
  // An unverifiable answer (e.g. a WECHATPAY/SIGNTEST probe) is not a result; the identical body is safe to send
  // again, so one more try usually turns it into a verified answer.
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await client.request<{ h5_url?: unknown }>({ method: 'POST', path: H5_ORDER_PATH, body: bytes, budgetMs: wechatBudgetMs('call') });
      const h5Url = response.data?.h5_url;
      if (typeof h5Url !== 'string' || h5Url === '') throw new ServiceError(502, 'WECHATPAY_BAD_RESPONSE', 'WeChat Pay answered without h5_url');
      return h5Url;
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      if (error instanceof ResponseVerificationError && attempt < 2) continue;
      throw toServiceError(error, ['OUT_TRADE_NO_USED']);
    }
  }
}
