import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../shared/config/env';

const base = {
  TABLE_NAME: 't',
  PUBLIC_BASE_URL: 'https://pay.example.com',
  DIRECT_MERCHANT_SECRET_ID: 'd',
  SERVICE_PROVIDER_SECRET_ID: 's',
};

describe('loadConfig', () => {
  it('defaults to WeChat Pay with the backup domain', () => {
    expect(loadConfig(base).wechatpayBaseUrls).toEqual(['https://api.mch.weixin.qq.com', 'https://api2.mch.weixin.qq.com']);
  });

  it('names the missing variable', () => {
    const { TABLE_NAME: _, ...rest } = base;
    expect(() => loadConfig(rest)).toThrow(/TABLE_NAME/);
  });

  it('allows plain-http notify URLs on loopback only', () => {
    expect(loadConfig({ ...base, PUBLIC_BASE_URL: 'http://127.0.0.1:3000' }).publicBaseUrl).toBe('http://127.0.0.1:3000');
    expect(() => loadConfig({ ...base, PUBLIC_BASE_URL: 'http://pay.example.com' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, PUBLIC_BASE_URL: 'https://pay.example.com/notify?x=1' })).toThrow(/query/);
  });

  it('refuses a non-numeric H5_QUERY_AFTER_SECONDS', () => {
    expect(() => loadConfig({ ...base, H5_QUERY_AFTER_SECONDS: 'soon' })).toThrow(/H5_QUERY_AFTER_SECONDS/);
  });

  it('moves the business clock on the local stack only; a deployed function keeps real time', () => {
    expect(loadConfig(base).clockOffsetMs).toBe(0);
    expect(loadConfig({ ...base, SECRETS_SOURCE: 'file', LOCAL_CLOCK_OFFSET_SECONDS: '3600' }).clockOffsetMs).toBe(3_600_000);
    expect(() => loadConfig({ ...base, SECRETS_SOURCE: 'aws', LOCAL_CLOCK_OFFSET_SECONDS: '3600' })).toThrow(/local stack only/);
    expect(() => loadConfig({ ...base, SECRETS_SOURCE: 'file', LOCAL_CLOCK_OFFSET_SECONDS: 'soon' })).toThrow(/LOCAL_CLOCK_OFFSET_SECONDS/);
  });
});
