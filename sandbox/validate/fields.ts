/**
 * Field checks for APIv3 JSON bodies. Each check throws 400 PARAM_ERROR with
 * `detail: {field, value, issue, location}` and a WeChat-style message.
 */
import { isIP } from 'node:net';
import { paramError, type ParamLocation } from '../errors';
import type { JsonObject } from './json';

export interface FieldSpec {
  /** Chinese field label used in messages, e.g. 商户订单号. */
  label: string;
  required?: boolean;
}

export interface StringSpec extends FieldSpec {
  min?: number;
  max?: number;
  pattern?: RegExp;
  patternIssue?: string;
  oneOf?: readonly string[];
}

export interface IntegerSpec extends FieldSpec {
  min?: number;
  max?: number;
}

/** A cursor over one JSON object at a dotted path (`''`, `amount`, `scene_info.h5_info`). */
export class Fields {
  constructor(
    readonly obj: JsonObject,
    readonly path = '',
    readonly location: ParamLocation = 'body',
  ) {}

  field(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  private fail(key: string, value: unknown, issue: string, label: string): never {
    throw paramError(this.field(key), value, issue, { location: this.location, label });
  }

  private present(key: string, spec: FieldSpec): boolean {
    const value = this.obj[key];
    if (value === undefined) {
      if (spec.required) this.fail(key, undefined, '必填性规则校验失败，此字段为必填项', spec.label);
      return false;
    }
    return true;
  }

  /** Rejects keys the API does not define (WeChat: 请求中含有未在API文档中定义的参数). */
  onlyKnown(allowed: readonly string[]): this {
    for (const key of Object.keys(this.obj)) {
      if (!allowed.includes(key)) this.fail(key, undefined, '是未在API文档中定义的参数', key);
    }
    return this;
  }

  string(key: string, spec: StringSpec): string | undefined {
    if (!this.present(key, spec)) return undefined;
    const value = this.obj[key];
    if (typeof value !== 'string') return this.fail(key, value, '类型错误，应为字符串(string)', spec.label);
    const length = [...value].length;
    if (spec.required && length === 0) this.fail(key, value, '必填性规则校验失败，此字段不能为空', spec.label);
    if (spec.min !== undefined && length < spec.min) {
      this.fail(key, value, `字符串规则校验失败，字符数 ${length}，小于最小值 ${spec.min}`, spec.label);
    }
    if (spec.max !== undefined && length > spec.max) {
      this.fail(key, value, `字符串规则校验失败，字符数 ${length}，大于最大值 ${spec.max}`, spec.label);
    }
    if (spec.pattern && !spec.pattern.test(value)) {
      this.fail(key, value, spec.patternIssue ?? '字符串规则校验失败，格式不正确', spec.label);
    }
    if (spec.oneOf && !spec.oneOf.includes(value)) {
      this.fail(key, value, `枚举值校验失败，可选值为 ${spec.oneOf.join('|')}`, spec.label);
    }
    return value;
  }

  integer(key: string, spec: IntegerSpec): number | undefined {
    if (!this.present(key, spec)) return undefined;
    const value = this.obj[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      return this.fail(key, value, '类型错误，应为整数(integer)', spec.label);
    }
    if (spec.min !== undefined && value < spec.min) {
      this.fail(key, value, `整数规则校验失败，值 ${value}，小于最小值 ${spec.min}`, spec.label);
    }
    if (spec.max !== undefined && value > spec.max) {
      this.fail(key, value, `整数规则校验失败，值 ${value}，大于最大值 ${spec.max}`, spec.label);
    }
    return value;
  }

  boolean(key: string, spec: FieldSpec): boolean | undefined {
    if (!this.present(key, spec)) return undefined;
    const value = this.obj[key];
    if (typeof value !== 'boolean') return this.fail(key, value, '类型错误，应为布尔值(boolean)', spec.label);
    return value;
  }

  object(key: string, spec: FieldSpec): Fields | undefined {
    if (!this.present(key, spec)) return undefined;
    const value = this.obj[key];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.fail(key, value, '类型错误，应为对象(object)', spec.label);
    }
    return new Fields(value as JsonObject, this.field(key), this.location);
  }

  array(key: string, spec: FieldSpec & { min?: number; max?: number }): unknown[] | undefined {
    if (!this.present(key, spec)) return undefined;
    const value = this.obj[key];
    if (!Array.isArray(value)) return this.fail(key, value, '类型错误，应为数组(array)', spec.label);
    if (spec.min !== undefined && value.length < spec.min) {
      this.fail(key, value.length, `数组规则校验失败，条目数 ${value.length}，小于最小值 ${spec.min}`, spec.label);
    }
    if (spec.max !== undefined && value.length > spec.max) {
      this.fail(key, value.length, `数组规则校验失败，条目数 ${value.length}，大于最大值 ${spec.max}`, spec.label);
    }
    return value;
  }

  /** Array of objects, each returned as a Fields cursor at `key[i]`. */
  objectArray(key: string, spec: FieldSpec & { min?: number; max?: number }): Fields[] | undefined {
    const items = this.array(key, spec);
    if (!items) return undefined;
    return items.map((item, i) => {
      const path = `${this.field(key)}[${i}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw paramError(path, item, '类型错误，应为对象(object)', { location: this.location, label: spec.label });
      }
      return new Fields(item as JsonObject, path, this.location);
    });
  }

  /** A custom rule on an already-read value. */
  check(key: string, ok: boolean, value: unknown, issue: string, label: string): void {
    if (!ok) this.fail(key, value, issue, label);
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * A notify URL WeChat accepts: absolute, no query or fragment, no surrounding spaces. v3 requires HTTPS;
 * the sandbox also accepts `http://` on loopback hosts (we run locally). v2 (`allowHttp`) accepts http anywhere.
 */
export function notifyUrlIssue(value: string, allowHttp: boolean): string | undefined {
  if (value.trim() !== value || value === '') return '通知地址格式错误，不能包含空白字符';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return '通知地址格式错误，必须为绝对URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return '通知地址必须以https://开头';
  if (url.protocol === 'http:' && !allowHttp && !isLoopbackHost(url.hostname)) return '通知地址必须以https://开头';
  if (url.search !== '' || value.includes('?')) return '通知地址不能携带参数';
  if (url.hash !== '' || value.includes('#')) return '通知地址不能包含片段(#)';
  if (url.username !== '' || url.password !== '') return '通知地址不能包含用户信息';
  return undefined;
}

export const isIPv4 = (value: string): boolean => isIP(value) === 4;
export const isIPAny = (value: string): boolean => isIP(value) !== 0;

/** Positive integer in a decimal string, no leading zero (amounts in fen as strings). */
export const POSITIVE_INT_STRING = /^[1-9]\d{0,15}$/;
