/**
 * Headless Debian Chromium driven by playwright-core, for the browser tests (test/browser/**).
 * The flags keep Chromium quiet on a machine with no outside network (see the `env` skill).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Debugging aid only (e.g. CHROMIUM_EXTRA_ARGS=--auto-open-devtools-for-tabs); never set in CI.
  ...(process.env['CHROMIUM_EXTRA_ARGS']?.split(' ').filter(Boolean) ?? []),
];

/** Where screenshots go (CI keeps test-results/ as artifacts). */
export const SCREENSHOT_DIR = resolve(process.cwd(), 'test-results', 'screenshots');

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Saves test-results/screenshots/<name>.png and returns its path. */
  screenshot(name: string, opts?: { fullPage?: boolean }): Promise<string>;
  /** Console errors and page errors seen so far (useful in failure messages). */
  errors: string[];
  close(): Promise<void>;
}

/** A fresh Chromium with its own empty profile (fresh localStorage/sessionStorage). */
export async function openBrowser(opts: { viewport?: { width: number; height: number } } = {}): Promise<BrowserSession> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'shop-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: opts.viewport ?? { width: 1360, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    page,
    errors,
    async screenshot(name, o = {}) {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: o.fullPage ?? true, animations: 'disabled' });
      return path;
    },
    async close() {
      await context.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
