/**
 * The web demo in headless Chromium against the whole running system (test/support/system.ts):
 * sign in, add two products, pay with the approving token and watch CONFIRMED arrive live; pay with the
 * declining token and see CANCELLED and the stock restored; reload in the middle of a saga and see the
 * full timeline with no gap and no duplicate. Screenshots go to test-results/screenshots/.
 */
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type BrowserSession } from '../support/browser.js';

/** What this test needs from a running system. */
interface SystemUnderTest {
  gatewayUrl: string;
  webDemoUrl: string | undefined;
  token(sub: string): Promise<string>;
  /** Takes the gateway away for `ms` (process stopped), then brings it back on the same port. */
  gatewayOutage(ms: number): Promise<void>;
  stop(): Promise<void>;
}

// Long enough that the reload below happens while the order still waits for its payment answer.
const SAGA_DEADLINE_MS = 8_000;
const STEP_TIMEOUT = 30_000;

async function start(): Promise<SystemUnderTest> {
  const { startSystem } = await import('../support/system.js');
  const system = await startSystem({ sagaDeadlineMs: SAGA_DEADLINE_MS, webDemo: true });
  return {
    gatewayUrl: system.gatewayUrl,
    webDemoUrl: system.webDemoUrl,
    token: (sub) => system.token(sub),
    stop: () => system.stop(),
    async gatewayOutage(ms) {
      const gateway = system.processes.get('gateway-1');
      if (!gateway) throw new Error('no gateway-1 process');
      await gateway.stop();
      await new Promise((r) => setTimeout(r, ms));
      await gateway.restart();
      await system.waitReady('gateway-1');
    },
  };
}

interface Step {
  sequence: number;
  status: string;
}

async function timeline(page: Page): Promise<Step[]> {
  return page.getByTestId('timeline-step').evaluateAll((els) =>
    els.map((el) => ({ sequence: Number(el.getAttribute('data-sequence')), status: el.getAttribute('data-status') ?? '' })),
  );
}

/** Sequences 1..n, each exactly once, in order. */
function expectNoGapNoDuplicate(steps: Step[]): void {
  expect(steps.map((s) => s.sequence)).toEqual(steps.map((_, i) => i + 1));
}

async function stockOf(card: Locator): Promise<number> {
  return Number(await card.getByTestId('product-stock').getAttribute('data-available'));
}

function cardFor(page: Page, productId: string): Locator {
  return page.locator(`[data-testid="product-card"][data-product-id="${productId}"]`);
}

async function goToShop(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Shop', exact: true }).click();
  await page.getByTestId('product-grid').waitFor({ timeout: STEP_TIMEOUT });
}

async function checkout(page: Page, paymentToken: 'tok_visa' | 'tok_declined' | 'tok_timeout'): Promise<string> {
  await page.getByTestId(`payment-${paymentToken}`).check();
  // A double click must still place one order (one idempotency key per checkout attempt).
  await page.getByTestId('checkout').dblclick();
  await page.waitForURL(/#\/orders\/[^/]+$/, { timeout: STEP_TIMEOUT });
  const id = decodeURIComponent(new URL(page.url()).hash.replace('#/orders/', ''));
  await page.getByTestId('order-page').waitFor({ timeout: STEP_TIMEOUT });
  return id;
}

async function serverStock(system: SystemUnderTest, productId: string): Promise<number> {
  const res = await fetch(system.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await system.token('alice')}` },
    body: JSON.stringify({ query: 'query($id: ID!) { product(id: $id) { stock { available } } }', variables: { id: productId } }),
  });
  const body = (await res.json()) as { data?: { product?: { stock: { available: number } } } };
  const available = body.data?.product?.stock.available;
  if (typeof available !== 'number') throw new Error(`no stock for ${productId}: ${JSON.stringify(body)}`);
  return available;
}

async function unreadCount(page: Page): Promise<number> {
  const badge = page.getByTestId('unread-count');
  return (await badge.count()) === 0 ? 0 : Number(await badge.innerText());
}

async function waitForStatus(page: Page, status: string, timeout = STEP_TIMEOUT): Promise<void> {
  await page.locator(`[data-testid="timeline-step"][data-status="${status}"]`).waitFor({ timeout });
}

describe('web demo', () => {
  let system: SystemUnderTest;
  let browser: BrowserSession;
  let page: Page;
  let webDemoUrl: string;

  beforeAll(async () => {
    system = await start();
    if (!system.webDemoUrl) throw new Error('the system was started without the web demo');
    webDemoUrl = system.webDemoUrl;
    browser = await openBrowser();
    page = browser.page;
  });

  afterEach(async ({ task }) => {
    if (task.result?.state !== 'fail' || !browser) return;
    const name = `failed-${task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`;
    const path = await browser.screenshot(name).catch(() => '(no screenshot)');
    console.error(`[web-demo] ${task.name} failed at ${page.url()}; screenshot ${path}\n${browser.errors.join('\n')}`);
  });

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  const productIds: string[] = [];

  it('signs in as alice and shows the product grid with live stock', async () => {
    await page.goto(webDemoUrl);
    await page.getByTestId('sign-in-alice').click();
    const signedIn = await Promise.race([
      page.getByTestId('nav-orders').waitFor({ timeout: STEP_TIMEOUT }).then(() => true),
      page.getByTestId('sign-in-error').waitFor({ timeout: STEP_TIMEOUT }).then(() => false),
    ]);
    if (!signedIn) {
      const why = await page.getByTestId('sign-in-error').innerText();
      throw new Error(`sign-in failed: "${why}" (does the gateway allow CORS from ${new URL(page.url()).origin}?)`);
    }
    await page.getByTestId('product-grid').waitFor({ timeout: STEP_TIMEOUT });
    await expect.poll(() => page.getByTestId('user-switcher').inputValue()).toBe('alice');
    // The subscription socket comes up for the bell and the visible cards.
    await expect.poll(() => page.getByTestId('connection-status').getAttribute('data-state'), { timeout: STEP_TIMEOUT }).toBe('connected');

    const cards = page.getByTestId('product-card');
    expect(await cards.count()).toBeGreaterThanOrEqual(2);
    for (const card of await cards.all()) {
      if ((await stockOf(card)) >= 3) productIds.push((await card.getAttribute('data-product-id'))!);
      if (productIds.length === 2) break;
    }
    expect(productIds, 'two products with at least 3 units in stock').toHaveLength(2);
    await expect.poll(() => cardFor(page, productIds[0]!).getByTestId('product-price').innerText()).toMatch(/\$\d/);
    await browser.screenshot('01-signed-in-grid');
  });

  it('places an order with tok_visa and sees CONFIRMED appear in the timeline without a reload', async () => {
    for (const id of productIds) await cardFor(page, id).getByTestId('add-to-cart').click();
    await expect(page.getByTestId('cart-line').count()).resolves.toBe(2);
    await browser.screenshot('02-cart');

    const orderId = await checkout(page, 'tok_visa');
    const urlBefore = page.url();
    await waitForStatus(page, 'CONFIRMED');
    expect(page.url()).toBe(urlBefore); // no navigation, no reload: it arrived over the subscription

    const steps = await timeline(page);
    expectNoGapNoDuplicate(steps);
    expect(steps.map((s) => s.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']);
    await expect.poll(() => page.getByTestId('order-status').getAttribute('data-status')).toBe('CONFIRMED');
    await expect(page.getByTestId('cancel-order').count()).resolves.toBe(0);
    // Lines carry product names resolved across subgraphs.
    await expect(page.getByTestId('order-line').count()).resolves.toBe(2);
    const lineText = await page.getByTestId('order-page').innerText();
    expect(lineText).toContain(orderId.slice(0, 8));
    await browser.screenshot('03-order-confirmed');

    // "My orders" lists it, once (the double click placed a single order).
    await page.getByTestId('nav-orders').click();
    await page.locator(`[data-testid="my-order"][data-order-id="${orderId}"]`).waitFor({ timeout: STEP_TIMEOUT });
    expect(await page.getByTestId('my-order').count()).toBe(1);
  });

  it('places an order with tok_declined, sees CANCELLED and the stock restored in the grid', async () => {
    await goToShop(page);
    const first = cardFor(page, productIds[0]!);
    // What the server says now (the grid may first show cached numbers, then the fresh ones).
    const before = await serverStock(system, productIds[0]!);
    await expect.poll(() => stockOf(first), { timeout: STEP_TIMEOUT }).toBe(before);
    await first.getByTestId('add-to-cart').click();

    await checkout(page, 'tok_declined');
    await waitForStatus(page, 'CANCELLED');
    const steps = await timeline(page);
    expectNoGapNoDuplicate(steps);
    expect(steps.at(-1)?.status).toBe('CANCELLED');
    expect(steps.map((s) => s.status)).not.toContain('CONFIRMED');
    await expect.poll(() => page.getByTestId('order-outcome').innerText()).toMatch(/declined/i);
    await browser.screenshot('04-order-declined');

    await goToShop(page);
    await expect.poll(() => stockOf(cardFor(page, productIds[0]!)), { timeout: STEP_TIMEOUT }).toBe(before);
    await browser.screenshot('05-stock-restored');
  });

  it('reloads in the middle of a saga and shows the full timeline, no gap, no duplicate', async () => {
    await cardFor(page, productIds[1]!).getByTestId('add-to-cart').click();
    await checkout(page, 'tok_timeout');
    await waitForStatus(page, 'INVENTORY_RESERVED');
    const beforeReload = await timeline(page);
    expect(beforeReload.at(-1)?.status, 'still in flight when reloading').toBe('INVENTORY_RESERVED');
    await browser.screenshot('06-before-reload');

    await page.reload();
    await page.getByTestId('order-page').waitFor({ timeout: STEP_TIMEOUT });
    // It resumed from the last sequence it had seen, not from the start.
    await expect
      .poll(() => page.getByTestId('timeline-live').getAttribute('data-after'), { timeout: STEP_TIMEOUT })
      .toBe(String(beforeReload.length));
    await expect.poll(async () => (await timeline(page)).length).toBeGreaterThanOrEqual(beforeReload.length);
    const afterReload = await timeline(page);
    if (afterReload.at(-1)?.status === 'INVENTORY_RESERVED') {
      expect(await page.getByTestId('cancel-order').count(), 'cancel is offered while the order is in flight').toBe(1);
      await browser.screenshot('07a-after-reload-in-flight');
    }

    // The saga deadline (no payment answer) cancels it; the step arrives live after the reload.
    await waitForStatus(page, 'CANCELLED', SAGA_DEADLINE_MS + STEP_TIMEOUT);
    const steps = await timeline(page);
    expectNoGapNoDuplicate(steps);
    expect(steps.map((s) => s.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    await expect(page.getByTestId('cancel-order').count()).resolves.toBe(0);
    await browser.screenshot('07-after-reload-cancelled');

    // The bell got the notifications pushed meanwhile.
    await page.getByTestId('bell').click();
    await page.getByTestId('notifications').waitFor();
    await browser.screenshot('08-notifications', { fullPage: false });
    await page.keyboard.press('Escape');

    expect(browser.errors.filter((e) => e.startsWith('pageerror')), browser.errors.join('\n')).toEqual([]);
  });

  it('shows "Can\'t reach the server" while the gateway is down and resumes the timeline after reconnecting', async () => {
    await goToShop(page);
    await cardFor(page, productIds[1]!).getByTestId('add-to-cart').click();
    await checkout(page, 'tok_timeout');
    await waitForStatus(page, 'INVENTORY_RESERVED');

    const unreadBefore = await unreadCount(page);
    // The gateway goes away for longer than the saga deadline: CANCELLED happens while the page is cut off.
    const outage = system.gatewayOutage(SAGA_DEADLINE_MS + 2_000);
    await page.getByTestId('server-banner').waitFor({ timeout: STEP_TIMEOUT });
    await expect.poll(() => page.getByTestId('connection-status').getAttribute('data-state')).toBe('reconnecting');
    expect(await page.getByTestId('server-banner').innerText()).toMatch(/Can.t reach the server — retrying/);
    await browser.screenshot('09-gateway-down');
    await outage;

    // Reconnects by itself and replays exactly what it missed (after: 2).
    await waitForStatus(page, 'CANCELLED', STEP_TIMEOUT);
    await page.getByTestId('server-banner').waitFor({ state: 'detached', timeout: STEP_TIMEOUT });
    const steps = await timeline(page);
    expectNoGapNoDuplicate(steps);
    expect(steps.map((s) => s.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    expect(await page.getByTestId('timeline-live').getAttribute('data-after')).toBe('2');
    // The notification sent while we were cut off shows up too (queries reload after a reconnect).
    await expect.poll(() => unreadCount(page), { timeout: STEP_TIMEOUT }).toBeGreaterThan(unreadBefore);
    await browser.screenshot('10-reconnected');
  });
});
