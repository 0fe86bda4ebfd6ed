import { connection, type MerchantContext } from '../merchant/context';
import { WechatPayV2Client } from '../wechatpay';

const clients = new WeakMap<MerchantContext, WechatPayV2Client>();

/**
 * The APIv2 client, built here rather than with every merchant context: only contract orders speak APIv2, and
 * keeping it (and its XML parser) out of the shared context keeps it out of the other functions' bundles.
 * One per merchant context, so a rotated secret gets a new client.
 */
export function v2ClientFor(merchant: MerchantContext): WechatPayV2Client | undefined {
  if (!merchant.apiV2Key) return undefined;
  let client = clients.get(merchant);
  if (!client) {
    client = new WechatPayV2Client({
      ...connection(merchant.clientSettings),
      mchid: merchant.mchid,
      appid: merchant.appid,
      apiV2Key: merchant.apiV2Key,
    });
    clients.set(merchant, client);
  }
  return client;
}
