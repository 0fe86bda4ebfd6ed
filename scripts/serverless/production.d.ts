/** Types of scripts/serverless/production.js (a plain-JavaScript osls plugin), for the tests that import it. */
type CfValue = unknown;
interface CfResource {
  Type: string;
  Properties?: Record<string, CfValue>;
  DependsOn?: string | string[];
  [attribute: string]: CfValue;
}
interface CfTemplate {
  Resources: Record<string, CfResource>;
  Outputs?: Record<string, CfValue>;
}

export const LOCAL_STAGE: string;
export const LOG_LEVELS: readonly string[];

export function stageParamProblems(
  env: Record<string, string | undefined>,
  throttle?: { ThrottlingRateLimit?: unknown; ThrottlingBurstLimit?: unknown },
): string[];
export function refusalMessage(stage: string, command: string, problems: string[]): string;
export function removeUnusedRole(template: CfTemplate, roleId: string): boolean;
export function functionAlarms(input: {
  service: string;
  stage: string;
  functions: Record<string, { timeout?: number }>;
  defaultTimeout?: number;
  topic: CfValue;
  logicalIdOf: (name: string) => string;
  resourcePrefixOf: (name: string) => string;
  durationOfTimeout?: number;
  period?: number;
}): Record<string, CfResource>;

export default class ProductionPlugin {
  constructor(serverless: unknown, options?: Record<string, unknown>, logging?: unknown);
  hooks: Record<string, () => unknown>;
}
