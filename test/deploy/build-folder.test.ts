import { execFile } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import EsbuildServerlessPlugin from 'serverless-esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import ProductionPlugin from '../../scripts/serverless/production.js';

/**
 * `serverless package` beside a running `npm start` must not touch the local stack's bundles: serverless-esbuild
 * deletes its work folder when a package ends, so `serverless offline` must build somewhere else. Checked with the
 * configuration as the real framework resolves it and the real serverless-esbuild plugin deciding its folder.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const PLUGIN = './scripts/serverless/production.js';

type Config = { service: string; plugins: string[]; custom: Record<string, any>; provider: Record<string, any>; functions: Record<string, any> };
let config: Config;

beforeAll(async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ESBUILD_')));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['node_modules/serverless/bin/serverless.js', 'print', '--stage', 'local', '--format', 'json'],
    { cwd: ROOT, env: { ...env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' }, maxBuffer: 16 * 1024 * 1024 },
  );
  config = JSON.parse(stdout.slice(stdout.indexOf('{')));
}, 60_000);

/** Where serverless-esbuild bundles for `commands`, after every plugin's initialize hook ran in serverless.yml's order. */
async function workFolder(commands: string[]): Promise<string> {
  const quiet = { error() {}, warning() {}, notice() {}, info() {}, debug() {}, verbose() {}, success() {} };
  const serverless = {
    config: { serviceDir: ROOT, servicePath: ROOT },
    service: { ...structuredClone(config), getFunction: (name: string) => config.functions[name] },
    processedInput: { commands, options: {} },
    configSchemaHandler: { defineFunctionProperties() {} },
    classes: { Error },
    getProvider: () => ({ getStage: () => 'local' }),
  };
  const esbuild = new EsbuildServerlessPlugin(serverless as never, {} as never, { log: quiet } as never);
  const plugins: Record<string, { hooks: Record<string, () => unknown> }> = {
    [PLUGIN]: new ProductionPlugin(serverless, {}, { log: quiet }),
    'serverless-esbuild': esbuild as never,
  };
  for (const name of config.plugins) await plugins[name]?.hooks.initialize?.();
  return relative(ROOT, (esbuild as unknown as { workDirPath: string }).workDirPath);
}

describe('the local stack builds in a folder of its own', () => {
  it('runs the production plugin before serverless-esbuild reads its options', () => {
    expect(config.plugins.indexOf(PLUGIN)).toBeGreaterThanOrEqual(0);
    expect(config.plugins.indexOf(PLUGIN)).toBeLessThan(config.plugins.indexOf('serverless-esbuild'));
  });

  it('bundles `serverless offline` apart from `serverless package` (and deploy, which packages)', async () => {
    const offline = await workFolder(['offline', 'start']);
    expect(offline).toBe('.esbuild-offline');
    expect(await workFolder(['offline'])).toBe(offline);
    for (const commands of [['package'], ['invoke', 'local']]) {
      const folder = await workFolder(commands);
      expect(folder, commands.join(' ')).toBe('.esbuild');
      expect(folder).not.toBe(offline);
    }
  });
});
