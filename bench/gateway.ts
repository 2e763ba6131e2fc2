/**
 * Gateway benchmark (issues 4 and 17): two queries, side by side in one run on this machine,
 *   order:    one order with its lines and their products (orders, then inventory), all requests
 *             from one customer: a personal read, shared at most within that customer;
 *   products: a catalog page (products with name, price and stock; inventory only) sent by many
 *             customers at once, each in-flight slot its own customer (token): public data, the same
 *             for everyone, though every request carries a different identity;
 * through
 *   (a) our gateway with its defaults (in-flight sharing of identical client queries and of
 *       identical subgraph fetches), with only the latter (DEDUP_INBOUND=false), and with neither
 *       (DEDUP_INBOUND=false DEDUP_SUBGRAPHS_OFF=*): one more gateway process each,
 *   (b) stock `@apollo/gateway` + `@apollo/server` (default settings, own process),
 *   (c) Hive Gateway 2.15.1 with its defaults (in-flight deduplication on) and with it off (its HTTP
 *       transport's `deduplicateInflightRequests: false`), and on Hive Router's Rust runtime with its
 *       defaults when it installs (own processes, own folder: bench/peers/hive, installed on demand),
 *   (d) directly to the subgraphs: orders `order(id)`, then inventory `_entities` for its products;
 *       inventory `products` for the page,
 * each with the same closed-loop load (same concurrency, warm-up, duration and request cap), once
 * loaded (default 32 in flight, both queries) and once unloaded (1 in flight, the order query, the
 * latency the overhead goal is about; sharing cannot matter there, so the switched-off twins are left out).
 * The peers forward the caller's identity (the `sub` of its bearer token) to every subgraph, as a
 * gateway without per-fetch identity rules must; ours forwards it only to fetches that need it.
 *
 *   node --conditions=@shop/source --import tsx bench/gateway.ts [--concurrency 32] [--duration 10] [--warmup 2]
 *        [--latency-duration 5] [--rounds 2] [--max-requests 300000] [--page 20] [--profile]
 *
 * --profile: V8's CPU profile of our gateway during its first loaded run of each query, written to
 * the system's temporary directory (open it in Chrome DevTools), with the functions that use most
 * of its CPU printed.
 *
 * Writes bench/results/gateway.json. The load generator runs in this process and shares the
 * machine's cores with everything it measures; the output says how much CPU each process used.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import { DEV_SECRETS, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import { REPO_ROOT, serviceEntry } from '../scripts/lib/system.js';
import { freePort, spawnManaged, TSX_NODE_ARGS } from '../scripts/lib/processes.js';
import { waitForStatus } from '../test/support/shop.js';
import { flagArg, numberArg } from './lib/args.js';
import { openInspector, topFunctions } from './lib/inspector.js';
import { createPool, postJson, runLoad, type LoadResult } from './lib/load.js';
import {
  cpuSeconds,
  distribution,
  fmt,
  fmtInt,
  loadAverage,
  machine,
  machineBusySeconds,
  printGoals,
  printTable,
  writeResult,
  type Distribution,
  type GoalCheck,
  type ResultTable,
} from './lib/report.js';
import { HIVE_PEER_DIR, ensureHivePeer } from './lib/peers.js';
import { BENCH_ENV, onCleanup, placeBenchOrder, runBenchmark, sleep, startBenchSystem } from './lib/system.js';

const CONCURRENCY = Math.round(numberArg('concurrency', 32));
const DURATION_S = numberArg('duration', 10);
const WARMUP_S = numberArg('warmup', 2);
const LATENCY_DURATION_S = numberArg('latency-duration', 5);
const MAX_REQUESTS = numberArg('max-requests', 300_000);
const ROUNDS = Math.round(numberArg('rounds', 2));
const PAGE = Math.round(numberArg('page', 20));
const CUSTOMER = 'bench-customer';
const PROFILE = flagArg('profile');

const ORDER_QUERY = /* GraphQL */ `query($id: ID!) { order(id: $id) { id status total { amount } lines { quantity unitPrice { amount } product { id name price { amount } } } } }`;
const ORDERS_SUBGRAPH_QUERY = /* GraphQL */ `query($id: ID!) { order(id: $id) { id status total { amount } lines { quantity unitPrice { amount } product { id } } } }`;
const INVENTORY_ENTITIES_QUERY = /* GraphQL */ `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { name price { amount } } } }`;
/** The same text for the gateways and for inventory directly: `products` is inventory's own field. */
const PRODUCTS_QUERY = /* GraphQL */ `query($first: Int) { products(first: $first) { edges { node { id name price { amount currency } stock { available } } } } }`;

interface OrderData {
  order: {
    id: string;
    status: string;
    total: { amount: number };
    lines: { quantity: number; unitPrice: { amount: number }; product: { id: string; name: string; price: { amount: number } } }[];
  } | null;
}
interface ProductsData {
  products: { edges: { node: { id: string; name: string; price: { amount: number; currency: string }; stock: { available: number } } }[] } | null;
}
interface Gql<T> {
  data?: T | null;
  errors?: unknown[];
}

type QueryName = 'order' | 'products';
const QUERIES: readonly QueryName[] = ['order', 'products'];
const QUERY_LABEL: Record<QueryName, string> = {
  order: 'order + lines + products, one customer',
  products: `products page (${PAGE}), ${CONCURRENCY} customers`,
};

type TargetName = 'direct' | 'ours' | 'oursNoInbound' | 'oursNoDedup' | 'stock' | 'hive' | 'hiveNoDedup' | 'hiveRust';
const LABEL: Record<TargetName, string> = {
  direct: 'direct to subgraphs',
  ours: 'our gateway (defaults: sharing on)',
  oursNoInbound: 'our gateway, fetch sharing only',
  oursNoDedup: 'our gateway, no sharing',
  stock: 'stock @apollo/gateway + @apollo/server',
  hive: 'Hive Gateway 2.15.1 (defaults: dedup on)',
  hiveNoDedup: 'Hive Gateway 2.15.1, dedup off',
  hiveRust: 'Hive Gateway 2.15.1, Rust runtime (defaults)',
};
/** The process each target's CPU is read from (`direct` has none: the load generator does its work). */
const GATEWAY_PROCESS: Record<TargetName, string | undefined> = {
  direct: undefined,
  ours: 'our gateway',
  oursNoInbound: 'our gateway (fetch sharing only)',
  oursNoDedup: 'our gateway (no sharing)',
  stock: 'stock gateway',
  hive: 'hive gateway',
  hiveNoDedup: 'hive gateway (no dedup)',
  hiveRust: 'hive gateway (rust)',
};
/** Only where in-flight sharing can change something: many requests at once. */
const UNLOADED_TARGETS: readonly TargetName[] = ['direct', 'ours', 'stock', 'hive', 'hiveRust'];

async function main() {
  const began = Date.now();
  console.log(`gateway benchmark: concurrency ${CONCURRENCY}, ${WARMUP_S} s warm-up + ${DURATION_S} s per target and query, then 1 in flight for ${LATENCY_DURATION_S} s`);
  console.log('starting the system (redis, broker, subgraphs, gateway)...');
  const system = await startBenchSystem();
  const token = await system.token(CUSTOMER);
  const { orderId, products } = await placeBenchOrder(system.gatewayUrl, token, 'tok_visa', 3);
  // Let the saga finish so no background work runs while we measure.
  const final = await waitForStatus(system.gatewayUrl, token, orderId, ['CONFIRMED', 'REJECTED', 'CANCELLED'], 60_000);
  console.log(`order ${orderId} with ${products.length} lines is ${final.status}`);
  // One customer per in-flight slot for the products page.
  const customerTokens = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => system.token(`${CUSTOMER}-${i}`)));

  const ordersUrl = new URL(system.subgraphUrls.orders[0]!);
  const inventoryUrl = new URL(system.subgraphUrls.inventory[0]!);
  const notificationsUrl = system.subgraphUrls.notifications[0]!;
  const peerSubgraphUrls = JSON.stringify({ orders: ordersUrl.href, inventory: inventoryUrl.href, notifications: notificationsUrl });

  // Our gateway again, the same but for its sharing, on the same subgraphs and Redis.
  const startOurs = async (name: string, env: Record<string, string>) => {
    const port = await freePort();
    const proc = spawnManaged({
      name,
      command: process.execPath,
      args: serviceEntry('gateway/src/main.ts'),
      cwd: REPO_ROOT,
      env: {
        ...BENCH_ENV,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: system.redisUrl,
        ORDERS_URL: ordersUrl.href,
        INVENTORY_URL: inventoryUrl.href,
        NOTIFICATIONS_URL: notificationsUrl,
        DEV_TOKENS: 'true',
        ...env,
      },
      logFile: join(system.dataDir, 'logs', `${name}.log`),
    });
    onCleanup(() => proc.stop());
    return { proc, url: new URL(`http://127.0.0.1:${port}/graphql`) };
  };
  const oursNoInbound = await startOurs('gateway-fetch-sharing-only', { DEDUP_INBOUND: 'false' });
  const oursNoDedup = await startOurs('gateway-no-sharing', { DEDUP_INBOUND: 'false', DEDUP_SUBGRAPHS_OFF: '*' });

  const stock = spawnManaged({
    name: 'stock-gateway',
    command: process.execPath,
    args: [...TSX_NODE_ARGS, join(REPO_ROOT, 'bench/lib/stock-gateway.ts')],
    cwd: REPO_ROOT,
    env: { STOCK_SUBGRAPH_URLS: peerSubgraphUrls, STOCK_IDENTITY_SUB: CUSTOMER, SUPERGRAPH_PATH: join(REPO_ROOT, 'gateway/supergraph.graphql') },
    logFile: join(system.dataDir, 'logs', 'stock-gateway.log'),
  });
  onCleanup(() => stock.stop());
  const stockUrl = new URL((await stock.waitForOutput(/STOCK_GATEWAY_READY (\S+)/, 60_000))[1]!);
  console.log(`stock gateway at ${stockUrl.href} (pid ${stock.pid()})`);

  const { routerRuntime } = ensureHivePeer();
  const startHive = async (name: string, opts: { rust: boolean; dedup: boolean }) => {
    const peer = spawnManaged({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', join(HIVE_PEER_DIR, 'server.mjs')],
      cwd: REPO_ROOT,
      env: {
        PEER_SUBGRAPH_URLS: peerSubgraphUrls,
        PEER_IDENTITY_SUB: CUSTOMER,
        SUPERGRAPH_PATH: join(REPO_ROOT, 'gateway/supergraph.graphql'),
        HIVE_ROUTER_RUNTIME: String(opts.rust),
        HIVE_DEDUP: String(opts.dedup),
        NODE_ENV: 'production',
      },
      logFile: join(system.dataDir, 'logs', `${name}.log`),
    });
    onCleanup(() => peer.stop());
    const url = new URL((await peer.waitForOutput(/HIVE_GATEWAY_READY (\S+)/, 120_000))[1]!);
    console.log(`${name} at ${url.href} (pid ${peer.pid()})`);
    return { peer, url };
  };
  const hive = await startHive('hive-gateway', { rust: false, dedup: true });
  const hiveNoDedup = await startHive('hive-gateway-no-dedup', { rust: false, dedup: false });
  const hiveRust = routerRuntime ? await startHive('hive-gateway-rust', { rust: true, dedup: true }) : undefined;
  if (!hiveRust) console.log('Hive Router runtime (@graphql-hive/router-runtime) did not install: that peer is left out');
  for (const [what, { proc, url }] of [['fetch sharing only', oursNoInbound], ['no sharing', oursNoDedup]] as const) {
    await waitReady(url, 60_000);
    console.log(`our gateway, ${what}, at ${url.href} (pid ${proc.pid()})`);
  }

  const pools: Pool[] = [];
  const pool = (url: URL) => {
    const p = createPool(url.origin, CONCURRENCY);
    pools.push(p);
    return p;
  };
  onCleanup(async () => {
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  });
  const gatewayUrls: Partial<Record<TargetName, URL>> = {
    ours: new URL(system.gatewayUrl),
    oursNoInbound: oursNoInbound.url,
    oursNoDedup: oursNoDedup.url,
    stock: stockUrl,
    hive: hive.url,
    hiveNoDedup: hiveNoDedup.url,
    ...(hiveRust ? { hiveRust: hiveRust.url } : {}),
  };
  const ordersPool = pool(ordersUrl);
  const inventoryPool = pool(inventoryUrl);

  const orderBody = JSON.stringify({ query: ORDER_QUERY, variables: { id: orderId } });
  const ordersBody = JSON.stringify({ query: ORDERS_SUBGRAPH_QUERY, variables: { id: orderId } });
  const productsBody = JSON.stringify({ query: PRODUCTS_QUERY, variables: { first: PAGE } });
  const orderAuth = { authorization: `Bearer ${token}` };
  const customerAuth = customerTokens.map((t) => ({ authorization: `Bearer ${t}` }));
  const identity = () => ({ [IDENTITY_HEADER]: signIdentity({ sub: CUSTOMER, roles: [] }, DEV_SECRETS.identity, 'orders') });

  const correctOrder = (r: Gql<OrderData>): boolean => {
    const order = r.data?.order;
    return (
      !r.errors?.length &&
      !!order &&
      order.id === orderId &&
      order.lines.length === products.length &&
      order.lines.every((l) => typeof l.product?.name === 'string' && l.product.name.length > 0 && typeof l.product.price?.amount === 'number')
    );
  };
  const correctProducts = (r: Gql<ProductsData>): boolean => {
    const edges = r.data?.products?.edges;
    return (
      !r.errors?.length &&
      !!edges &&
      edges.length === PAGE &&
      edges.every(({ node }) => node.name.length > 0 && typeof node.price?.amount === 'number' && typeof node.stock?.available === 'number')
    );
  };

  /** What a client would do without a gateway: the order, then its products, and merge them. */
  const directOrder = async (): Promise<Gql<OrderData>> => {
    const headers = identity();
    const first = await postJson<Gql<OrderData>>(ordersPool, ordersUrl.pathname, ordersBody, headers);
    const order = first.data?.order;
    if (!order || first.errors?.length) return first;
    const ids = [...new Set(order.lines.map((l) => l.product.id))];
    const body = JSON.stringify({ query: INVENTORY_ENTITIES_QUERY, variables: { representations: ids.map((id) => ({ __typename: 'Product', id })) } });
    const second = await postJson<Gql<{ _entities: ({ name: string; price: { amount: number } } | null)[] }>>(inventoryPool, inventoryUrl.pathname, body, headers);
    const entities = second.data?._entities;
    if (!entities || second.errors?.length) return { data: null, errors: second.errors ?? ['no _entities'] };
    const byId = new Map(ids.map((id, i) => [id, entities[i]]));
    return {
      data: {
        order: {
          ...order,
          lines: order.lines.map((l) => {
            const p = byId.get(l.product.id);
            return { ...l, product: { id: l.product.id, name: p?.name ?? '', price: p?.price ?? { amount: NaN } } };
          }),
        },
      },
    };
  };
  const targets: TargetName[] = ['direct', ...(Object.keys(gatewayUrls) as TargetName[])];
  type Call = (slot: number) => Promise<Gql<unknown>>;
  const calls: Record<QueryName, Partial<Record<TargetName, Call>>> = {
    order: { direct: directOrder },
    // Public: no identity, as our gateway sends it.
    products: { direct: () => postJson<Gql<ProductsData>>(inventoryPool, inventoryUrl.pathname, productsBody, {}) },
  };
  for (const [name, url] of Object.entries(gatewayUrls) as [TargetName, URL][]) {
    const p = pool(url);
    calls.order[name] = () => postJson<Gql<OrderData>>(p, url.pathname, orderBody, orderAuth);
    calls.products[name] = (slot) => postJson<Gql<ProductsData>>(p, url.pathname, productsBody, customerAuth[slot % customerAuth.length]!);
  }
  const correct: Record<QueryName, (r: Gql<unknown>) => boolean> = {
    order: (r) => correctOrder(r as Gql<OrderData>),
    products: (r) => correctProducts(r as Gql<ProductsData>),
  };

  // All must answer the same thing, or the comparison means nothing.
  const differing: string[] = [];
  for (const q of QUERIES) {
    const answers = new Map<TargetName, string>();
    for (const name of targets) {
      const r = await calls[q][name]!(0);
      if (!correct[q](r)) throw new Error(`${LABEL[name]} answered the ${q} query incorrectly: ${JSON.stringify(r).slice(0, 600)}`);
      answers.set(name, JSON.stringify(r.data));
    }
    if (!targets.every((t) => answers.get(t) === answers.get('ours'))) {
      differing.push(q);
      console.warn(`warning: the targets' answers to the ${q} query differ:\n${[...answers].map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
    }
  }

  const pids: Record<string, number | undefined> = {
    'our gateway': system.pidOf('gateway-1'),
    'our gateway (fetch sharing only)': oursNoInbound.proc.pid(),
    'our gateway (no sharing)': oursNoDedup.proc.pid(),
    'stock gateway': stock.pid(),
    'hive gateway': hive.peer.pid(),
    'hive gateway (no dedup)': hiveNoDedup.peer.pid(),
    ...(hiveRust ? { 'hive gateway (rust)': hiveRust.peer.pid() } : {}),
    orders: system.pidOf('orders-1'),
    inventory: system.pidOf('inventory-1'),
    'redis + broker + notifications': undefined,
  };
  const otherPids = ['redis', 'broker', 'notifications-1'].map((n) => system.processes.get(n)?.pid()).filter((p): p is number => !!p);

  interface Run {
    query: QueryName;
    target: TargetName;
    concurrency: number;
    round: number;
    result: LoadResult;
    samples: Float64Array;
    /** CPU use during the run, % of one core, by process; `machine` is every process on the machine. */
    cpu: Record<string, number>;
    /** CPU seconds used during the run, by process. */
    cpuSeconds: Record<string, number>;
    /** Our gateways: subgraph fetches sent and shared, client queries shared, during the run (from /metrics). */
    fetches?: SharingCounts;
  }
  const runs: Run[] = [];
  const profileOurs = async <T>(query: QueryName, during: () => Promise<T>): Promise<T> => {
    const inspector = await openInspector(system.processes.get('gateway-1')!);
    try {
      const { result, profile } = await inspector.profile(during);
      // Outside the run's data directory, which goes with the run.
      const file = join(tmpdir(), `gateway-${query}-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.log(`  CPU profile of our gateway (${query} query): ${file}; by self time:`);
      for (const f of topFunctions(profile, 25)) console.log(`    ${fmt(f.share * 100, 1).padStart(5)}%  ${f.name}  ${f.where}`);
      return result;
    } finally {
      inspector.close();
    }
  };
  const cpuNow = (): Record<string, number> => ({
    ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid ? cpuSeconds(pid) : sumCpu(otherPids)])),
    machine: machineBusySeconds(),
  });
  const measure = async (query: QueryName, target: TargetName, concurrency: number, warmupS: number, durationS: number, round: number) => {
    const check = correct[query];
    const send = calls[query][target]!;
    const call = async (slot: number) => check(await send(slot));
    const fetchesUrl = target.startsWith('ours') ? gatewayUrls[target] : undefined;
    const fetchesBefore = fetchesUrl ? await sharingCounts(fetchesUrl) : undefined;
    const before = cpuNow();
    const selfBefore = process.cpuUsage();
    const t0 = performance.now();
    const load = () => runLoad({ concurrency, warmupMs: warmupS * 1000, durationMs: durationS * 1000, maxRequests: MAX_REQUESTS, call });
    const profiled = PROFILE && target === 'ours' && concurrency === CONCURRENCY && round === 1;
    const { result, samples } = profiled ? await profileOurs(query, load) : await load();
    const wall = (performance.now() - t0) / 1000;
    const self = process.cpuUsage(selfBefore);
    const after = cpuNow();
    const fetchesAfter = fetchesUrl ? await sharingCounts(fetchesUrl) : undefined;
    const used: Record<string, number> = { 'load generator': (self.user + self.system) / 1e6 };
    for (const k of Object.keys(after)) used[k] = after[k]! - before[k]!;
    const cpu: Record<string, number> = {};
    for (const [k, v] of Object.entries(used)) cpu[k] = (v / wall) * 100;
    let ours = 0;
    for (const [k, v] of Object.entries(cpu)) if (k !== 'machine') ours += v;
    cpu['other processes'] = Math.max(0, cpu.machine! - ours);
    const fetches = fetchesBefore && fetchesAfter ? { sent: fetchesAfter.sent - fetchesBefore.sent, shared: fetchesAfter.shared - fetchesBefore.shared, queriesShared: fetchesAfter.queriesShared - fetchesBefore.queriesShared } : undefined;
    runs.push({ query, target, concurrency, round, result, samples, cpu, cpuSeconds: used, ...(fetches ? { fetches } : {}) });
    const perResponse = (name: string | undefined) => (name ? (used[name]! / Math.max(1, result.completedTotal)) * 1000 : NaN);
    console.log(
      `  ${query.padEnd(8)} ${LABEL[target].padEnd(44)} c=${String(concurrency).padStart(2)}  ${fmtInt(result.throughput).padStart(6)} req/s  p50 ${fmt(result.latency.p50)} ms  p99 ${fmt(result.latency.p99)} ms  failed ${result.failed}${result.firstError ? ` (${result.firstError})` : ''}  CPU ms/request: gateway ${fmt(perResponse(GATEWAY_PROCESS[target]))}, subgraphs ${fmt(perResponse('orders') + perResponse('inventory'))}  [other processes ${fmt(cpu['other processes']!, 0)}% CPU]`,
    );
  };

  // Interleaved rounds, each starting with a different target (and query), so drift (JIT warm-up,
  // other work on the machine) does not favour one; the figures pool every round.
  const rotated = <T>(list: readonly T[], r: number) => list.map((_, i) => list[(i + r) % list.length]!);
  const loadAvgBefore = loadAverage();
  for (let r = 0; r < ROUNDS; r++) {
    console.log(`\nround ${r + 1}/${ROUNDS}, loaded: ${CONCURRENCY} requests in flight`);
    for (const t of rotated(targets, r)) for (const q of rotated(QUERIES, r)) await measure(q, t, CONCURRENCY, WARMUP_S, DURATION_S, r + 1);
  }
  const unloaded = targets.filter((t) => UNLOADED_TARGETS.includes(t));
  for (let r = 0; r < ROUNDS; r++) {
    console.log(`\nround ${r + 1}/${ROUNDS}, unloaded: 1 request in flight`);
    for (const t of rotated(unloaded, r)) await measure('order', t, 1, 1, LATENCY_DURATION_S, r + 1);
  }
  const loadAvgAfter = loadAverage();

  interface Pooled {
    query: QueryName;
    target: TargetName;
    concurrency: number;
    throughput: number;
    perRound: number[];
    ok: number;
    failed: number;
    latency: Distribution;
    cpu: Record<string, number>;
    /** CPU milliseconds per response (warm-up included), by process: robust to other load on the machine. */
    cpuMsPerRequest: Record<string, number>;
    /** Our gateways: subgraph fetches sent per response, the share of fetches shared, the share of queries that shared another's run. */
    fetchesSentPerRequest?: number;
    fetchesSharedShare?: number;
    queriesSharedShare?: number;
  }
  const pool_ = (query: QueryName, target: TargetName, concurrency: number): Pooled | undefined => {
    const mine = runs.filter((r) => r.query === query && r.target === target && r.concurrency === concurrency);
    if (!mine.length) return undefined;
    const seconds = mine.reduce((s, r) => s + r.result.measuredSeconds, 0);
    const ok = mine.reduce((s, r) => s + r.result.ok, 0);
    const all = new Float64Array(mine.reduce((s, r) => s + r.samples.length, 0));
    let at = 0;
    for (const r of mine) {
      all.set(r.samples, at);
      at += r.samples.length;
    }
    const cpu: Record<string, number> = {};
    for (const k of Object.keys(mine[0]!.cpu)) cpu[k] = mine.reduce((s, r) => s + r.cpu[k]!, 0) / mine.length;
    const responses = mine.reduce((s, r) => s + r.result.completedTotal, 0);
    const cpuMsPerRequest: Record<string, number> = {};
    for (const k of Object.keys(mine[0]!.cpuSeconds)) cpuMsPerRequest[k] = (mine.reduce((s, r) => s + r.cpuSeconds[k]!, 0) / responses) * 1000;
    const withFetches = mine.filter((r) => r.fetches);
    const sent = withFetches.reduce((s, r) => s + r.fetches!.sent, 0);
    const shared = withFetches.reduce((s, r) => s + r.fetches!.shared, 0);
    const queriesShared = withFetches.reduce((s, r) => s + r.fetches!.queriesShared, 0);
    return {
      query,
      target,
      concurrency,
      throughput: ok / seconds,
      perRound: mine.map((r) => r.result.throughput),
      ok,
      failed: mine.reduce((s, r) => s + r.result.failed, 0),
      latency: distribution(all),
      cpu,
      cpuMsPerRequest,
      ...(withFetches.length ? { fetchesSentPerRequest: sent / responses, fetchesSharedShare: shared / Math.max(1, sent + shared), queriesSharedShare: queriesShared / responses } : {}),
    };
  };
  const pooled = [
    ...QUERIES.flatMap((q) => targets.map((t) => pool_(q, t, CONCURRENCY))),
    ...unloaded.map((t) => pool_('order', t, 1)),
  ].filter((p): p is Pooled => !!p);
  const get = (q: QueryName, t: TargetName, c = CONCURRENCY) => pooled.find((p) => p.query === q && p.target === t && p.concurrency === c);
  const loaded = (q: QueryName, t: TargetName) => get(q, t)!;
  const single = (t: TargetName) => get('order', t, 1)!;
  const throughputRatio = (q: QueryName, other: TargetName) => (get(q, other) ? loaded(q, 'ours').throughput / loaded(q, other).throughput : NaN);
  const gatewayCpuMs = (q: QueryName, t: TargetName, c = CONCURRENCY) => get(q, t, c)?.cpuMsPerRequest[GATEWAY_PROCESS[t] ?? ''] ?? NaN;
  const subgraphCpuMs = (q: QueryName, t: TargetName, c = CONCURRENCY) => {
    const p = get(q, t, c);
    return p ? p.cpuMsPerRequest.orders! + p.cpuMsPerRequest.inventory! : NaN;
  };
  const overheadLoaded = loaded('order', 'ours').latency.p50 - loaded('order', 'direct').latency.p50;
  const overheadSingle = single('ours').latency.p50 - single('direct').latency.p50;

  const figures: ResultTable = {
    title: `Both queries, ${ROUNDS} interleaved rounds pooled: ${CONCURRENCY} in flight for ${DURATION_S} s after ${WARMUP_S} s warm-up; 1 in flight (order query) for ${LATENCY_DURATION_S} s after 1 s. CPU: milliseconds per request (warm-up included) of the target's gateway process and of the subgraphs (orders + inventory)`,
    columns: ['query', 'target', 'in flight', 'req/s', 'req/s per round', 'p50 ms', 'p99 ms', 'max ms', 'gateway CPU ms', 'subgraph CPU ms', 'requests', 'failed'],
    rows: pooled.map((p) => [
      QUERY_LABEL[p.query],
      LABEL[p.target],
      p.concurrency,
      fmtInt(p.throughput),
      p.perRound.map(fmtInt).join(' / '),
      fmt(p.latency.p50),
      fmt(p.latency.p99),
      fmt(p.latency.max),
      fmt(gatewayCpuMs(p.query, p.target, p.concurrency)),
      fmt(subgraphCpuMs(p.query, p.target, p.concurrency)),
      fmtInt(p.ok),
      p.failed,
    ]),
  };
  const ratioRows = (q: QueryName): [string, string][] => [
    [`${q}: throughput ours / Hive Gateway on the Rust runtime (its defaults)`, `${fmt(throughputRatio(q, 'hiveRust'))}×`],
    [`${q}: throughput ours / Hive Gateway (its defaults)`, `${fmt(throughputRatio(q, 'hive'))}×`],
    [`${q}: throughput ours / stock`, `${fmt(throughputRatio(q, 'stock'))}×`],
    [`${q}: throughput ours / direct`, `${fmt(throughputRatio(q, 'direct'))}×`],
    [`${q}: throughput ours with all sharing / fetch sharing only / none`, `${fmtInt(loaded(q, 'ours').throughput)} / ${fmtInt(loaded(q, 'oursNoInbound').throughput)} / ${fmtInt(loaded(q, 'oursNoDedup').throughput)} req/s`],
    [`${q}: gateway CPU per request, ours with all sharing / fetch sharing only / none`, `${fmt(gatewayCpuMs(q, 'ours'))} / ${fmt(gatewayCpuMs(q, 'oursNoInbound'))} / ${fmt(gatewayCpuMs(q, 'oursNoDedup'))} ms`],
    [`${q}: throughput Hive Gateway with / without its dedup`, `${fmt(loaded(q, 'hive').throughput / loaded(q, 'hiveNoDedup').throughput)}×`],
    [`${q}: gateway CPU per request, ours / Hive Rust / Hive / stock`, `${[gatewayCpuMs(q, 'ours'), gatewayCpuMs(q, 'hiveRust'), gatewayCpuMs(q, 'hive'), gatewayCpuMs(q, 'stock')].map((v) => fmt(v)).join(' / ')} ms`],
    [`${q}: subgraph CPU per request, ours / Hive Rust / Hive / stock`, `${[subgraphCpuMs(q, 'ours'), subgraphCpuMs(q, 'hiveRust'), subgraphCpuMs(q, 'hive'), subgraphCpuMs(q, 'stock')].map((v) => fmt(v, 3)).join(' / ')} ms`],
    [
      `${q}: our subgraph fetches sent per request, all sharing / fetch sharing only / none`,
      [loaded(q, 'ours'), loaded(q, 'oursNoInbound'), loaded(q, 'oursNoDedup')].map((p) => fmt(p.fetchesSentPerRequest ?? NaN)).join(' / '),
    ],
    [
      `${q}: share of our requests that shared another's run (all sharing); of fetches shared (fetch sharing only)`,
      `${fmt((loaded(q, 'ours').queriesSharedShare ?? NaN) * 100, 0)}%; ${fmt((loaded(q, 'oursNoInbound').fetchesSharedShare ?? NaN) * 100, 0)}%`,
    ],
  ];
  const comparison: ResultTable = {
    title: `Comparison (${CONCURRENCY} in flight unless said)`,
    columns: ['figure', 'value'],
    rows: [
      ...QUERIES.flatMap(ratioRows),
      [`order: p50 overhead ours − direct, ${CONCURRENCY} in flight`, `${fmt(overheadLoaded)} ms`],
      ['order: p50 overhead ours − direct, 1 in flight', `${fmt(overheadSingle)} ms`],
      ['order: p50 overhead stock − direct, 1 in flight', `${fmt(single('stock').latency.p50 - single('direct').latency.p50)} ms`],
    ],
  };
  const perRequestNames = ['load generator', ...Object.keys(pids).filter((n) => pids[n] !== undefined)];
  const cpuPerRequestTable: ResultTable = {
    title: 'CPU milliseconds per request, by process (all rounds, warm-up included)',
    columns: ['query', 'target', 'in flight', ...perRequestNames],
    rows: pooled.map((p) => [p.query, p.target, p.concurrency, ...perRequestNames.map((n) => fmt(p.cpuMsPerRequest[n] ?? NaN, 3))]),
  };
  const cpuNames = ['load generator', ...Object.keys(pids), 'other processes', 'machine'];
  const cpuTable: ResultTable = {
    title: `CPU used during the runs (mean of the rounds), % of one core; this machine has ${machine().nproc} cores (${machine().nproc * 100}%), shared by all of these`,
    columns: ['query', 'target', 'in flight', ...cpuNames.map((n) => (n === 'machine' ? 'whole machine' : n))],
    rows: pooled.map((p) => [p.query, p.target, p.concurrency, ...cpuNames.map((n) => fmt(p.cpu[n] ?? NaN, 0))]),
  };

  const oursCpuMs = gatewayCpuMs('order', 'ours');
  const stockRatio = throughputRatio('order', 'stock');
  const hiveRatio = throughputRatio('order', 'hive');
  const vsHiveRust = (q: QueryName): GoalCheck => {
    const ratio = throughputRatio(q, 'hiveRust');
    return {
      goal: `${q} query: throughput at least 1.5× Hive Gateway on the Rust runtime with its defaults`,
      measured: hiveRust
        ? `${fmt(ratio)}× (${fmtInt(loaded(q, 'ours').throughput)} vs ${fmtInt(loaded(q, 'hiveRust').throughput)} req/s; gateway CPU per request ${fmt(gatewayCpuMs(q, 'ours'))} vs ${fmt(gatewayCpuMs(q, 'hiveRust'))} ms)`
        : 'the Rust runtime did not install',
      pass: hiveRust ? ratio >= 1.5 : null,
    };
  };
  const subgraphCpuGoal = (q: QueryName): GoalCheck => {
    const ours = subgraphCpuMs(q, 'ours');
    const hives: TargetName[] = hiveRust ? ['hive', 'hiveRust'] : ['hive'];
    const most = Math.min(...hives.map((t) => subgraphCpuMs(q, t)));
    return {
      goal: `${q} query: subgraph CPU per request at most Hive's (each Hive target with its defaults)`,
      measured: `${fmt(ours, 3)} ms vs ${hives.map((t) => `${fmt(subgraphCpuMs(q, t), 3)} (${t})`).join(', ')} ms`,
      pass: ours <= most,
    };
  };
  const goals: GoalCheck[] = [
    vsHiveRust('order'),
    vsHiveRust('products'),
    subgraphCpuGoal('order'),
    subgraphCpuGoal('products'),
    { goal: 'order query: throughput at least 3× the stock gateway', measured: `${fmt(stockRatio)}× (${fmtInt(loaded('order', 'ours').throughput)} vs ${fmtInt(loaded('order', 'stock').throughput)} req/s; gateway CPU per request ${fmt(oursCpuMs)} vs ${fmt(gatewayCpuMs('order', 'stock'))} ms)`, pass: stockRatio >= 3 },
    { goal: 'order query: throughput at least 2× Hive Gateway (aim: 3×)', measured: `${fmt(hiveRatio)}× (${fmtInt(loaded('order', 'ours').throughput)} vs ${fmtInt(loaded('order', 'hive').throughput)} req/s; gateway CPU per request ${fmt(oursCpuMs)} vs ${fmt(gatewayCpuMs('order', 'hive'))} ms)`, pass: hiveRatio >= 2 },
    { goal: 'gateway CPU per federated query (order) at most 0.3 ms', measured: `${fmt(oursCpuMs)} ms at ${CONCURRENCY} in flight`, pass: oursCpuMs <= 0.3 },
    { goal: 'order query: p50 overhead at most 2 ms over the direct subgraph calls (1 in flight)', measured: `${fmt(overheadSingle)} ms (${fmt(single('ours').latency.p50)} vs ${fmt(single('direct').latency.p50)} ms)`, pass: overheadSingle <= 2 },
    { goal: `order query: p50 overhead at most 2 ms over the direct subgraph calls (${CONCURRENCY} in flight)`, measured: `${fmt(overheadLoaded)} ms (${fmt(loaded('order', 'ours').latency.p50)} vs ${fmt(loaded('order', 'direct').latency.p50)} ms)`, pass: overheadLoaded <= 2 },
  ];
  const othersMax = Math.max(...pooled.map((p) => p.cpu['other processes'] ?? 0));
  const notes = [
    `One machine (${machine().nproc} cores): the load generator (this process), the gateways, the subgraphs, Redis and the broker all share its cores, so the absolute figures are lower than on separate machines; the CPU tables show who used what. Every gateway process stays up for the whole run; only the one being measured gets requests.`,
    `Load average (1 min) ${fmt(loadAvgBefore)} before the runs and ${fmt(loadAvgAfter)} after; processes outside this benchmark used up to ${fmt(othersMax, 0)}% of one core during a run${othersMax > 20 ? ': the machine was busy with other work, so these figures are noisy and lower than on an idle machine' : ''}.`,
    'Closed loop: each in-flight slot sends its next request when the previous answer has been read completely; latency is from send to the last byte. Only correct answers count (order: its id, 3 lines, product names and prices, no errors; products: a full page with names, prices and stock, no errors).',
    `Order query: every request from one customer (bench-customer). Products query: in-flight slot i always sends customer bench-customer-i's token (${CONCURRENCY} customers), so every gateway gets ${CONCURRENCY} different identities at once for the same public page.`,
    'Identity: our gateway verifies each JWT and sends the signed x-shop-identity header only with the subgraph fetches that need it (`@authenticated`), so public fetches are the same for every customer and can be shared. The peers verify no JWT (which only makes them cheaper): they read the caller from the bearer token and add its signed x-shop-identity header to every subgraph request, as a gateway without per-fetch identity rules must (inventory has personal fields too); their deduplication then only shares requests of the same customer.',
    'Stock gateway: @apollo/gateway + @apollo/server standalone with default settings (no deduplication), in its own process, the same supergraph file with this run\'s subgraph URLs.',
    'Hive Gateway: @graphql-hive/gateway 2.15.1 (bench/peers/hive, its own folder and lockfile, @graphql-tools/delegate overridden to 12.2.1 as it needs) with its defaults, in-flight deduplication of identical subgraph requests included; "dedup off" is the same with its HTTP transport\'s `deduplicateInflightRequests: false` (`transportEntries: { "*.http": … }`). The Rust-runtime peer is the defaults with HIVE_ROUTER_RUNTIME=true (@graphql-hive/router-runtime).',
    'Our gateway: its defaults share identical client queries in flight at once (one run, keyed on the whole operation, and on the caller when a fetch of the plan carries an identity) and identical subgraph fetches in flight at once. "Fetch sharing only" is another gateway process with DEDUP_INBOUND=false, "no sharing" one with DEDUP_INBOUND=false DEDUP_SUBGRAPHS_OFF=*: the same code and settings otherwise, on the same subgraphs and Redis.',
    'Direct: order: orders `order(id)` then inventory `_entities` for the distinct products, sequentially, merged in the load generator (which a gateway saves the client from doing); products: inventory `products` itself, without an identity.',
    differing.length ? `WARNING: the targets returned different data before the runs for: ${differing.join(', ')} (see the log).` : 'All targets returned identical data for each query before the runs.',
    ...runs.filter((r) => r.result.cappedByCount).map((r) => `${r.target} (${r.query}) at ${r.concurrency} in flight (round ${r.round}) stopped at the request cap (${MAX_REQUESTS}).`),
  ];

  printTable(figures);
  printTable(comparison);
  printTable(cpuPerRequestTable);
  printTable(cpuTable);
  printGoals(goals);
  for (const n of notes) console.log(`note: ${n}`);

  const file = writeResult({
    name: 'gateway',
    title: 'Gateway: an order (personal) and a products page (public, many customers) through our gateway (with and without fetch sharing), stock Apollo Gateway and Hive Gateway (with and without dedup, and on the Rust runtime), and directly',
    date: new Date().toISOString(),
    machine: machine(),
    command: `node --conditions=@shop/source --import tsx bench/gateway.ts --concurrency ${CONCURRENCY} --duration ${DURATION_S} --warmup ${WARMUP_S} --latency-duration ${LATENCY_DURATION_S} --rounds ${ROUNDS} --max-requests ${MAX_REQUESTS} --page ${PAGE}`,
    durationSeconds: Math.round((Date.now() - began) / 1000),
    notes,
    tables: [figures, comparison, cpuPerRequestTable, cpuTable],
    goals,
    raw: {
      orderId,
      queries: { order: ORDER_QUERY, products: PRODUCTS_QUERY },
      loadAverage: { before: loadAvgBefore, after: loadAvgAfter },
      pooled,
      runs: runs.map(({ samples: _samples, ...r }) => r),
      ratios: Object.fromEntries(QUERIES.map((q) => [q, { stock: throughputRatio(q, 'stock'), hive: throughputRatio(q, 'hive'), hiveRust: throughputRatio(q, 'hiveRust'), oursNoInbound: throughputRatio(q, 'oursNoInbound'), oursNoDedup: throughputRatio(q, 'oursNoDedup') }])),
      overheadLoadedMs: overheadLoaded,
      overheadSingleMs: overheadSingle,
    },
  });
  console.log(`\nwrote ${file}`);
}

function sumCpu(pids: number[]): number {
  return pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0);
}

interface SharingCounts {
  /** Subgraph fetches sent, and shared with one in flight (`gateway_subgraph_fetches_total`, all subgraphs). */
  sent: number;
  shared: number;
  /** Client queries that shared another's run (`gateway_inbound_queries_total{outcome="shared"}`). */
  queriesShared: number;
}

/** The sharing counters of one of our gateways, from its `/metrics`. */
async function sharingCounts(graphqlUrl: URL): Promise<SharingCounts> {
  const text = await (await fetch(new URL('/metrics', graphqlUrl), { signal: AbortSignal.timeout(5_000) })).text();
  const out: SharingCounts = { sent: 0, shared: 0, queriesShared: 0 };
  const value = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('gateway_subgraph_fetches_total{')) {
      const outcome = /outcome="(sent|shared)"/.exec(line)?.[1] as 'sent' | 'shared' | undefined;
      if (outcome) out[outcome] += value(line);
    } else if (line.startsWith('gateway_inbound_queries_total{') && line.includes('outcome="shared"')) {
      out.queriesShared += value(line);
    }
  }
  return out;
}

/** Until the gateway's `/readyz` answers 200 (its subgraphs and Redis reachable). */
async function waitReady(graphqlUrl: URL, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(new URL('/readyz', graphqlUrl), { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${graphqlUrl.origin} was not ready within ${timeoutMs} ms`);
    await sleep(200);
  }
}

await runBenchmark('gateway', main);
