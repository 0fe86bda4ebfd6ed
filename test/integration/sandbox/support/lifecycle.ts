import { afterAll, afterEach, beforeAll } from 'vitest';
import { generateSandboxFixture, startSandbox, type RunningSandbox, type SandboxFixture } from '../../../../sandbox/index';
import { Receiver } from './receiver';

/** A sandbox with fresh keys, and a receiver for its notifications, for the tests of one file. */
export interface SandboxUnderTest {
  fx: SandboxFixture;
  sb: RunningSandbox;
  rx: Receiver;
}

/** Registers the file's hooks: start both once, clear the fault switches after each test, stop both at the end. */
export function sandboxUnderTest(): SandboxUnderTest {
  const t = {} as SandboxUnderTest;
  beforeAll(async () => {
    t.fx = generateSandboxFixture();
    t.sb = await startSandbox({ config: t.fx.config, timeScale: 0.001 });
    t.rx = await Receiver.start();
  });
  afterAll(async () => {
    await t.sb?.close();
    await t.rx?.close();
  });
  afterEach(async () => {
    await t.sb.faults.reset();
  });
  return t;
}
