import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/system.js';

/** Hive Gateway's folder: its own package.json and lockfile, its node_modules installed on demand (gitignored). */
export const HIVE_PEER_DIR = join(REPO_ROOT, 'bench/peers/hive');

/**
 * Installs Hive Gateway into its own folder when it is not there yet (`npm ci` from the committed
 * lockfile, so the versions are the pinned ones); says whether Hive Router's Rust runtime, an
 * optional dependency, installed too.
 */
export function ensureHivePeer(): { routerRuntime: boolean } {
  const installed = () => existsSync(join(HIVE_PEER_DIR, 'node_modules/@graphql-hive/gateway/package.json'));
  if (!installed()) {
    console.log(`installing Hive Gateway into ${HIVE_PEER_DIR} (npm ci)...`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: HIVE_PEER_DIR, stdio: 'inherit' });
  }
  return { routerRuntime: existsSync(join(HIVE_PEER_DIR, 'node_modules/@graphql-hive/router-runtime/package.json')) };
}
