import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

export type Item = Record<string, unknown>;

export function toAttributes(item: Item): Record<string, AttributeValue> {
  return marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: false });
}

export function fromAttributes<T extends Item = Item>(attributes: Record<string, AttributeValue> | undefined): T | undefined {
  return attributes ? (unmarshall(attributes) as T) : undefined;
}

/**
 * Builds `SET #a = :a, …` plus its name and value maps. Keys are prefixed so they never clash with the
 * placeholders a caller's condition expression uses.
 */
export function setExpression(values: Item, prefix = 's'): {
  expression: string;
  names: Record<string, string>;
  values: Item;
} {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const vals: Item = {};
  Object.entries(values).forEach(([name, value], i) => {
    if (value === undefined) return;
    names[`#${prefix}${i}`] = name;
    vals[`:${prefix}${i}`] = value;
    parts.push(`#${prefix}${i} = :${prefix}${i}`);
  });
  return { expression: parts.join(', '), names, values: vals };
}
