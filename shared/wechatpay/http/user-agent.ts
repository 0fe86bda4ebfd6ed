/** Bumped with the package; kept here because this module may not read the project's package.json. */
export const CLIENT_NAME = 'wechatpay-serverless';
export const CLIENT_VERSION = '0.1.0';

/**
 * WeChat Pay's basic rules ask APIv3 callers for a descriptive User-Agent (the official SDKs send
 * e.g. `WechatPay-Go/x (os) GO/y`); it also helps WeChat support find our requests.
 */
export function defaultUserAgent(): string {
  return `${CLIENT_NAME}/${CLIENT_VERSION} (node ${process.versions.node}; ${process.platform} ${process.arch})`;
}
