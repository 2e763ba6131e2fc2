import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devToken, launchSystem, type LaunchOptions, type RunningSystem } from '../../scripts/lib/system.js';
import { graphql } from '../../test/support/clients.js';
import { listProducts, placeOrder, type Product } from '../../test/support/shop.js';

export interface BenchSystem extends RunningSystem {
  readonly dataDir: string;
  /** A development token from the gateway's `/auth/dev-token`. */
  token(sub: string, roles?: readonly string[]): Promise<string>;
  /** The pid of a process the launcher started (`gateway-1`, `orders-1`, ...). */
  pidOf(name: string): number;
}

/** Settings every benchmark needs so that limits meant for abusive clients do not throttle the load generator. */
export const BENCH_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn',
  RATE_LIMIT: '10000000',
  // One benchmark customer on one address holds thousands of sockets and subscriptions (on one socket
  // too, when every order of a load run is watched), opened in batches.
  WS_MAX_PENDING_PER_IP: '1000000',
  WS_MAX_PENDING: '1000000',
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '10000000',
  MAX_SUBSCRIPTIONS_PER_CLIENT: '10000000',
  SUPERGRAPH_WATCH: 'false',
};

const cleanups: (() => Promise<void>)[] = [];
let exiting = false;

/** Runs `fn` at exit, on SIGINT/SIGTERM too, so nothing a benchmark started outlives it. */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

export async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    const fn = cleanups.pop()!;
    await fn().catch((err: unknown) => console.error('cleanup failed:', err));
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (exiting) return;
    exiting = true;
    console.error(`\n${sig}: stopping everything this benchmark started`);
    void runCleanups().finally(() => process.exit(130));
  });
}

/** The whole system on free 127.0.0.1 ports with a temporary data directory, removed at cleanup; `launch` adds replicas and the like. */
export async function startBenchSystem(env: Record<string, string> = {}, launch: Pick<LaunchOptions, 'replicas' | 'gateways'> = {}): Promise<BenchSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shop-bench-'));
  const keep = process.env.KEEP_BENCH_DATA === '1';
  const removeData = async () => {
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
    else console.log(`kept ${dataDir}`);
  };
  // Registered first so it runs last; an interrupted launch is ended by the launcher's exit hook.
  onCleanup(removeData);
  let system: RunningSystem;
  try {
    system = await launchSystem({ ...launch, dataDir, env: { ...BENCH_ENV, ...env } });
  } catch (err) {
    console.error(`the system did not start; logs are in ${dataDir}/logs${keep ? '' : ' (removed; set KEEP_BENCH_DATA=1 to keep them)'}`);
    throw err;
  }
  onCleanup(() => system.stop());
  return {
    ...system,
    dataDir,
    token: (sub, roles = []) => devToken(system.gatewayUrl, sub, roles),
    pidOf(name) {
      const pid = system.processes.get(name)?.pid();
      if (!pid) throw new Error(`no pid for ${name}`);
      return pid;
    },
  };
}

/** Places one order of `lineCount` distinct products (quantity 1 each) and returns its id and the products. */
export async function placeBenchOrder(
  gatewayUrl: string,
  token: string,
  paymentToken: string,
  lineCount = 3,
): Promise<{ orderId: string; products: Product[] }> {
  const products = (await listProducts(gatewayUrl)).filter((p) => p.stock.available >= 10);
  if (products.length === 0) throw new Error('the catalog has no product in stock: is inventory seeded?');
  const chosen = products.slice(0, lineCount);
  const order = await placeOrder(gatewayUrl, token, {
    lines: chosen.map((p) => ({ productId: p.id, quantity: 1 })),
    paymentToken,
    idempotencyKey: `bench-${process.pid}-${Date.now()}`,
  });
  return { orderId: order.id, products: chosen };
}

/** Reads one gauge or counter (summed over labels) from the gateway's `/metrics`. */
export async function metricValue(gatewayUrl: string, name: string): Promise<number> {
  const res = await fetch(new URL('/metrics', gatewayUrl), { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  let sum = NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (Number.isNaN(sum) ? 0 : sum) + value;
  }
  return sum;
}

/** The order's current status and last sequence, through the gateway. */
export async function orderState(gatewayUrl: string, token: string, id: string): Promise<{ status: string; sequence: number } | undefined> {
  const r = await graphql<{ order: { status: string; history: { sequence: number }[] } | null }>(
    gatewayUrl,
    'query($id: ID!) { order(id: $id) { status history { sequence } } }',
    { id },
    { token },
  );
  const order = r.data?.order;
  if (!order) return undefined;
  return { status: order.status, sequence: Math.max(0, ...order.history.map((h) => h.sequence)) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a benchmark's `main`, then every cleanup (processes by pid, temp dirs), and exits with its outcome. */
export async function runBenchmark(name: string, main: () => Promise<void>): Promise<never> {
  let exitCode = 0;
  try {
    await main();
  } catch (err) {
    console.error(`${name} benchmark failed:`, err);
    exitCode = 1;
  } finally {
    await runCleanups();
  }
  process.exit(exitCode);
}
