import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devToken, launchSystem, type LaunchOptions, type RunningSystem } from '../../scripts/lib/system.js';

export interface TestSystem extends RunningSystem {
  /** A development token from the gateway's `/auth/dev-token`. */
  token(sub: string, roles?: readonly string[]): Promise<string>;
  readonly dataDir: string;
}

export interface TestSystemOptions extends Partial<Omit<LaunchOptions, 'dataDir'>> {
  /** Saga deadline for every orders replica (shortened in tests that wait for it). */
  sagaDeadlineMs?: number;
  /** Prefix of the temporary data directory (default `shop-e2e-`; the chaos tier uses its own). */
  dataDirPrefix?: string;
}

/**
 * The whole system as separate processes on free 127.0.0.1 ports with a temporary data
 * directory; `stop()` ends every process by pid and removes the directory (unless KEEP_TEST_DATA=1,
 * which keeps logs for a failed run).
 */
export async function startSystem(opts: TestSystemOptions = {}): Promise<TestSystem> {
  const { sagaDeadlineMs, env, dataDirPrefix, ...rest } = opts;
  const dataDir = mkdtempSync(join(tmpdir(), dataDirPrefix ?? 'shop-e2e-'));
  const system = await launchSystem({
    dataDir,
    ...rest,
    env: {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...(sagaDeadlineMs ? { SAGA_DEADLINE_MS: String(sagaDeadlineMs) } : {}),
      ...env,
    },
  }).catch((err: unknown) => {
    if (process.env.KEEP_TEST_DATA !== '1') rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  return {
    ...system,
    dataDir,
    token: (sub, roles = []) => devToken(system.gatewayUrl, sub, roles),
    async stop() {
      await system.stop();
      if (process.env.KEEP_TEST_DATA !== '1') rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
