/**
 * Federated query benchmark (issue 4): one order with its lines and products, side by side in one
 * run on this machine,
 *   (a) through our gateway,
 *   (b) through stock `@apollo/gateway` + `@apollo/server` (default settings, own process),
 *   (b') through Hive Gateway 2.15.1 with its defaults, and on Hive Router's Rust runtime when it
 *        installs (own processes, own folder: bench/peers/hive, installed on demand),
 *   (c) directly to the subgraphs: orders `order(id)`, then inventory `_entities` for its
 *       products, one after the other per request, with the signed identity header,
 * each with the same closed-loop load (same concurrency, warm-up, duration and request cap), once
 * loaded (default 32 in flight) and once unloaded (1 in flight, the latency the goal is about).
 *
 *   node --conditions=@shop/source --import tsx bench/gateway.ts [--concurrency 32] [--duration 10] [--warmup 2]
 *        [--latency-duration 5] [--rounds 2] [--max-requests 300000] [--profile]
 *
 * --profile: V8's CPU profile of our gateway during its first loaded run, written to the system's
 * temporary directory (open it in Chrome DevTools), with the functions that use most of its CPU printed.
 *
 * Writes bench/results/gateway.json. The load generator runs in this process and shares the
 * machine's cores with everything it measures; the output says how much CPU each process used.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import { DEV_SECRETS, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import { REPO_ROOT } from '../scripts/lib/system.js';
import { spawnManaged, TSX_NODE_ARGS } from '../scripts/lib/processes.js';
import { waitForStatus } from '../test/support/shop.js';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import { onCleanup, placeBenchOrder, runBenchmark, startBenchSystem } from './lib/system.js';

const CONCURRENCY = numberArg('concurrency', 32);
const DURATION_S = numberArg('duration', 10);
const WARMUP_S = numberArg('warmup', 2);
const LATENCY_DURATION_S = numberArg('latency-duration', 5);
const MAX_REQUESTS = numberArg('max-requests', 300_000);
const ROUNDS = Math.round(numberArg('rounds', 2));
const CUSTOMER = 'bench-customer';
const PROFILE = flagArg('profile');

const ORDER_QUERY = /* GraphQL */ `query($id: ID!) { order(id: $id) { id status total { amount } lines { quantity unitPrice { amount } product { id name price { amount } } } } }`;
const ORDERS_SUBGRAPH_QUERY = /* GraphQL */ `query($id: ID!) { order(id: $id) { id status total { amount } lines { quantity unitPrice { amount } product { id } } } }`;
const INVENTORY_ENTITIES_QUERY = /* GraphQL */ `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { name price { amount } } } }`;

interface OrderData {
  order: {
    id: string;
    status: string;
    total: { amount: number };
    lines: { quantity: number; unitPrice: { amount: number }; product: { id: string; name: string; price: { amount: number } } }[];
  } | null;
}
interface Gql<T> {
  data?: T | null;
  errors?: unknown[];
}

type TargetName = 'ours' | 'stock' | 'hive' | 'hiveRust' | 'direct';
const LABEL: Record<TargetName, string> = {
  ours: 'our gateway',
  stock: 'stock @apollo/gateway + @apollo/server',
  hive: 'Hive Gateway 2.15.1 (defaults)',
  hiveRust: 'Hive Gateway 2.15.1, Rust router runtime',
  direct: 'direct to subgraphs (orders, then inventory)',
};

async function main() {
  const began = Date.now();
  console.log(`gateway benchmark: concurrency ${CONCURRENCY}, ${WARMUP_S} s warm-up + ${DURATION_S} s per target, then 1 in flight for ${LATENCY_DURATION_S} s`);
  console.log('starting the system (redis, broker, subgraphs, gateway)...');
  const system = await startBenchSystem();
  const token = await system.token(CUSTOMER);
  const { orderId, products } = await placeBenchOrder(system.gatewayUrl, token, 'tok_visa', 3);
  // Let the saga finish so no background work runs while we measure.
  const final = await waitForStatus(system.gatewayUrl, token, orderId, ['CONFIRMED', 'REJECTED', 'CANCELLED'], 60_000);
  console.log(`order ${orderId} with ${products.length} lines is ${final.status}`);

  const ordersUrl = new URL(system.subgraphUrls.orders[0]!);
  const inventoryUrl = new URL(system.subgraphUrls.inventory[0]!);
  const notificationsUrl = system.subgraphUrls.notifications[0]!;

  const stock = spawnManaged({
    name: 'stock-gateway',
    command: process.execPath,
    args: [...TSX_NODE_ARGS, join(REPO_ROOT, 'bench/lib/stock-gateway.ts')],
    cwd: REPO_ROOT,
    env: {
      STOCK_SUBGRAPH_URLS: JSON.stringify({ orders: ordersUrl.href, inventory: inventoryUrl.href, notifications: notificationsUrl }),
      STOCK_IDENTITY_SUB: CUSTOMER,
      SUPERGRAPH_PATH: join(REPO_ROOT, 'gateway/supergraph.graphql'),
    },
    logFile: join(system.dataDir, 'logs', 'stock-gateway.log'),
  });
  onCleanup(() => stock.stop());
  const stockUrl = new URL((await stock.waitForOutput(/STOCK_GATEWAY_READY (\S+)/, 60_000))[1]!);
  console.log(`stock gateway at ${stockUrl.href} (pid ${stock.pid()})`);

  const { routerRuntime } = ensureHivePeer();
  const startHive = async (name: string, rust: boolean) => {
    const peer = spawnManaged({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', join(HIVE_PEER_DIR, 'server.mjs')],
      cwd: REPO_ROOT,
      env: {
        PEER_SUBGRAPH_URLS: JSON.stringify({ orders: ordersUrl.href, inventory: inventoryUrl.href, notifications: notificationsUrl }),
        PEER_IDENTITY_SUB: CUSTOMER,
        SUPERGRAPH_PATH: join(REPO_ROOT, 'gateway/supergraph.graphql'),
        HIVE_ROUTER_RUNTIME: String(rust),
        NODE_ENV: 'production',
      },
      logFile: join(system.dataDir, 'logs', `${name}.log`),
    });
    onCleanup(() => peer.stop());
    const url = new URL((await peer.waitForOutput(/HIVE_GATEWAY_READY (\S+)/, 120_000))[1]!);
    console.log(`${name} at ${url.href} (pid ${peer.pid()})`);
    return { peer, url };
  };
  const hive = await startHive('hive-gateway', false);
  const hiveRust = routerRuntime ? await startHive('hive-gateway-rust', true) : undefined;
  if (!hiveRust) console.log('Hive Router runtime (@graphql-hive/router-runtime) did not install: that peer is left out');

  const oursUrl = new URL(system.gatewayUrl);
  const pools: Pool[] = [];
  const pool = (url: URL) => {
    const p = createPool(url.origin, CONCURRENCY);
    pools.push(p);
    return p;
  };
  const oursPool = pool(oursUrl);
  const stockPool = pool(stockUrl);
  const hivePool = pool(hive.url);
  const hiveRustPool = hiveRust ? pool(hiveRust.url) : undefined;
  const ordersPool = pool(ordersUrl);
  const inventoryPool = pool(inventoryUrl);
  onCleanup(async () => {
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  });

  const gatewayBody = JSON.stringify({ query: ORDER_QUERY, variables: { id: orderId } });
  const ordersBody = JSON.stringify({ query: ORDERS_SUBGRAPH_QUERY, variables: { id: orderId } });
  const authHeaders = { authorization: `Bearer ${token}` };
  const identity = () => ({ [IDENTITY_HEADER]: signIdentity({ sub: CUSTOMER, roles: [] }, DEV_SECRETS.identity, 'orders') });

  const correct = (r: Gql<OrderData>): boolean => {
    const order = r.data?.order;
    return (
      !r.errors?.length &&
      !!order &&
      order.id === orderId &&
      order.lines.length === products.length &&
      order.lines.every((l) => typeof l.product?.name === 'string' && l.product.name.length > 0 && typeof l.product.price?.amount === 'number')
    );
  };

  const fetchOurs = () => postJson<Gql<OrderData>>(oursPool, oursUrl.pathname, gatewayBody, authHeaders);
  const fetchStock = () => postJson<Gql<OrderData>>(stockPool, stockUrl.pathname, gatewayBody, {});
  const fetchHive = () => postJson<Gql<OrderData>>(hivePool, hive.url.pathname, gatewayBody, {});
  const fetchHiveRust = () => postJson<Gql<OrderData>>(hiveRustPool!, hiveRust!.url.pathname, gatewayBody, {});
  /** What a client would do without a gateway: the order, then its products, and merge them. */
  const fetchDirect = async (): Promise<Gql<OrderData>> => {
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
  const fetchers: Record<TargetName, () => Promise<Gql<OrderData>>> = { ours: fetchOurs, stock: fetchStock, hive: fetchHive, hiveRust: fetchHiveRust, direct: fetchDirect };
  const targets: TargetName[] = ['direct', 'ours', 'stock', 'hive', ...(hiveRust ? (['hiveRust'] as const) : [])];

  // All must answer the same thing, or the comparison means nothing.
  const answers = new Map<TargetName, string>();
  for (const name of targets) {
    const r = await fetchers[name]();
    if (!correct(r)) throw new Error(`${LABEL[name]} answered incorrectly: ${JSON.stringify(r).slice(0, 600)}`);
    answers.set(name, JSON.stringify(r.data));
  }
  const sameAnswer = targets.every((t) => answers.get(t) === answers.get('ours'));
  if (!sameAnswer) console.warn(`warning: the targets' answers differ:\n${[...answers].map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);

  const pids: Record<string, number | undefined> = {
    'our gateway': system.pidOf('gateway-1'),
    'stock gateway': stock.pid(),
    'hive gateway': hive.peer.pid(),
    ...(hiveRust ? { 'hive gateway (rust)': hiveRust.peer.pid() } : {}),
    orders: system.pidOf('orders-1'),
    inventory: system.pidOf('inventory-1'),
    'redis + broker + notifications': undefined,
  };
  const otherPids = ['redis', 'broker', 'notifications-1'].map((n) => system.processes.get(n)?.pid()).filter((p): p is number => !!p);

  interface Run {
    target: TargetName;
    concurrency: number;
    round: number;
    result: LoadResult;
    samples: Float64Array;
    /** CPU use during the run, % of one core, by process; `machine` is every process on the machine. */
    cpu: Record<string, number>;
    /** CPU seconds used during the run, by process. */
    cpuSeconds: Record<string, number>;
  }
  const runs: Run[] = [];
  const profileOurs = async <T>(during: () => Promise<T>): Promise<T> => {
    const inspector = await openInspector(system.processes.get('gateway-1')!);
    try {
      const { result, profile } = await inspector.profile(during);
      // Outside the run's data directory, which goes with the run.
      const file = join(tmpdir(), `gateway-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.log(`  CPU profile of our gateway: ${file}; by self time:`);
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
  const measure = async (target: TargetName, concurrency: number, warmupS: number, durationS: number, round: number) => {
    const call = async () => correct(await fetchers[target]());
    const before = cpuNow();
    const selfBefore = process.cpuUsage();
    const t0 = performance.now();
    const load = () => runLoad({ concurrency, warmupMs: warmupS * 1000, durationMs: durationS * 1000, maxRequests: MAX_REQUESTS, call });
    const profiled = PROFILE && target === 'ours' && concurrency === CONCURRENCY && round === 1;
    const { result, samples } = profiled ? await profileOurs(load) : await load();
    const wall = (performance.now() - t0) / 1000;
    const self = process.cpuUsage(selfBefore);
    const after = cpuNow();
    const used: Record<string, number> = { 'load generator': (self.user + self.system) / 1e6 };
    for (const k of Object.keys(after)) used[k] = after[k]! - before[k]!;
    const cpu: Record<string, number> = {};
    for (const [k, v] of Object.entries(used)) cpu[k] = (v / wall) * 100;
    let ours = 0;
    for (const [k, v] of Object.entries(cpu)) if (k !== 'machine') ours += v;
    cpu['other processes'] = Math.max(0, cpu.machine! - ours);
    runs.push({ target, concurrency, round, result, samples, cpu, cpuSeconds: used });
    console.log(
      `  ${LABEL[target].padEnd(46)} c=${String(concurrency).padStart(2)}  ${fmtInt(result.throughput).padStart(6)} req/s  p50 ${fmt(result.latency.p50)} ms  p99 ${fmt(result.latency.p99)} ms  failed ${result.failed}${result.firstError ? ` (${result.firstError})` : ''}  [other processes ${fmt(cpu['other processes']!, 0)}% CPU]`,
    );
  };

  // Interleaved rounds, each starting with a different target, so drift (JIT warm-up, other
  // work on the machine) does not favour one; the figures pool every round.
  const rotated = (r: number) => targets.map((_, i) => targets[(i + r) % targets.length]!);
  const loadAvgBefore = loadAverage();
  for (let r = 0; r < ROUNDS; r++) {
    console.log(`
round ${r + 1}/${ROUNDS}, loaded: ${CONCURRENCY} requests in flight`);
    for (const t of rotated(r)) await measure(t, CONCURRENCY, WARMUP_S, DURATION_S, r + 1);
  }
  for (let r = 0; r < ROUNDS; r++) {
    console.log(`
round ${r + 1}/${ROUNDS}, unloaded: 1 request in flight`);
    for (const t of rotated(r)) await measure(t, 1, 1, LATENCY_DURATION_S, r + 1);
  }
  const loadAvgAfter = loadAverage();

  interface Pooled {
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
  }
  const pool_ = (target: TargetName, concurrency: number): Pooled => {
    const mine = runs.filter((r) => r.target === target && r.concurrency === concurrency);
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
    return {
      target,
      concurrency,
      throughput: ok / seconds,
      perRound: mine.map((r) => r.result.throughput),
      ok,
      failed: mine.reduce((s, r) => s + r.result.failed, 0),
      latency: distribution(all),
      cpu,
      cpuMsPerRequest,
    };
  };
  const pooled = [CONCURRENCY, 1].flatMap((c) => targets.map((t) => pool_(t, c)));
  const get = (t: TargetName, c: number) => pooled.find((p) => p.target === t && p.concurrency === c)!;
  const loaded = (t: TargetName) => get(t, CONCURRENCY);
  const single = (t: TargetName) => get(t, 1);
  const ratio = loaded('ours').throughput / loaded('stock').throughput;
  const overheadLoaded = loaded('ours').latency.p50 - loaded('direct').latency.p50;
  const overheadSingle = single('ours').latency.p50 - single('direct').latency.p50;
  // CPU per request of each gateway process: on a busy machine this compares the two more fairly
  // than throughput, which then mostly measures how much CPU the scheduler gave each process.
  const oursCpuMs = loaded('ours').cpuMsPerRequest['our gateway']!;
  const stockCpuMs = loaded('stock').cpuMsPerRequest['stock gateway']!;
  const hiveCpuMs = loaded('hive').cpuMsPerRequest['hive gateway']!;
  const hiveRatio = loaded('ours').throughput / loaded('hive').throughput;
  const hiveRustRatio = hiveRust ? loaded('ours').throughput / loaded('hiveRust').throughput : NaN;
  const hiveRustCpuMs = hiveRust ? loaded('hiveRust').cpuMsPerRequest['hive gateway (rust)']! : NaN;

  const figures: ResultTable = {
    title: `Federated query (order + ${products.length} lines + products), ${ROUNDS} interleaved rounds pooled: ${CONCURRENCY} in flight for ${DURATION_S} s after ${WARMUP_S} s warm-up; 1 in flight for ${LATENCY_DURATION_S} s after 1 s`,
    columns: ['target', 'in flight', 'req/s', 'req/s per round', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'requests', 'failed'],
    rows: pooled.map((p) => [
      LABEL[p.target],
      p.concurrency,
      fmtInt(p.throughput),
      p.perRound.map(fmtInt).join(' / '),
      fmt(p.latency.p50),
      fmt(p.latency.p90),
      fmt(p.latency.p99),
      fmt(p.latency.max),
      fmtInt(p.ok),
      p.failed,
    ]),
  };
  const comparison: ResultTable = {
    title: 'Comparison',
    columns: ['figure', 'value'],
    rows: [
      [`throughput ours / stock (${CONCURRENCY} in flight)`, `${fmt(ratio)}×`],
      [`throughput ours / Hive Gateway (${CONCURRENCY} in flight)`, `${fmt(hiveRatio)}×`],
      ...(hiveRust ? [[`throughput ours / Hive Gateway on the Rust runtime (${CONCURRENCY} in flight)`, `${fmt(hiveRustRatio)}×`] as [string, string]] : []),
      [`throughput ours / direct (${CONCURRENCY} in flight)`, `${fmt(loaded('ours').throughput / loaded('direct').throughput)}×`],
      [`p50 overhead ours − direct, ${CONCURRENCY} in flight`, `${fmt(overheadLoaded)} ms`],
      ['p50 overhead ours − direct, 1 in flight', `${fmt(overheadSingle)} ms`],
      ['p50 overhead stock − direct, 1 in flight', `${fmt(single('stock').latency.p50 - single('direct').latency.p50)} ms`],
      [`gateway process CPU per request, ours / stock (${CONCURRENCY} in flight)`, `${fmt(oursCpuMs)} / ${fmt(stockCpuMs)} ms`],
      [`gateway process CPU per request, Hive Gateway / on the Rust runtime (${CONCURRENCY} in flight)`, `${fmt(hiveCpuMs)} / ${fmt(hiveRustCpuMs)} ms`],
      ['throughput ratio those CPU costs imply when the gateway is the bottleneck (stock ÷ ours)', `${fmt(stockCpuMs / oursCpuMs)}×`],
    ],
  };
  const perRequestNames = ['load generator', 'our gateway', 'stock gateway', 'hive gateway', 'hive gateway (rust)', 'orders', 'inventory'];
  const cpuPerRequestTable: ResultTable = {
    title: 'CPU milliseconds per request, by process (all rounds, warm-up included)',
    columns: ['target', 'in flight', ...perRequestNames],
    rows: pooled.map((p) => [p.target, p.concurrency, ...perRequestNames.map((n) => fmt(p.cpuMsPerRequest[n] ?? NaN))]),
  };
  const cpuNames = ['load generator', ...Object.keys(pids), 'other processes', 'machine'];
  const cpuTable: ResultTable = {
    title: `CPU used during the runs (mean of the rounds), % of one core; this machine has ${machine().nproc} cores (${machine().nproc * 100}%), shared by all of these`,
    columns: ['target', 'in flight', ...cpuNames.map((n) => (n === 'machine' ? 'whole machine' : n))],
    rows: pooled.map((p) => [p.target, p.concurrency, ...cpuNames.map((n) => fmt(p.cpu[n] ?? NaN, 0))]),
  };
  const goals: GoalCheck[] = [
    { goal: 'throughput at least 3× the stock gateway on the same query', measured: `${fmt(ratio)}× (${fmtInt(loaded('ours').throughput)} vs ${fmtInt(loaded('stock').throughput)} req/s at ${CONCURRENCY} in flight; gateway CPU per request ${fmt(oursCpuMs)} vs ${fmt(stockCpuMs)} ms, i.e. ${fmt(stockCpuMs / oursCpuMs)}×)`, pass: ratio >= 3 },
    { goal: 'throughput at least 2× Hive Gateway (aim: 3×) on the same query', measured: `${fmt(hiveRatio)}× (${fmtInt(loaded('ours').throughput)} vs ${fmtInt(loaded('hive').throughput)} req/s at ${CONCURRENCY} in flight; gateway CPU per request ${fmt(oursCpuMs)} vs ${fmt(hiveCpuMs)} ms)`, pass: hiveRatio >= 2 },
    { goal: 'gateway CPU per federated query at most 0.3 ms', measured: `${fmt(oursCpuMs)} ms at ${CONCURRENCY} in flight`, pass: oursCpuMs <= 0.3 },
    { goal: 'p50 overhead at most 2 ms over the direct subgraph calls (1 in flight)', measured: `${fmt(overheadSingle)} ms (${fmt(single('ours').latency.p50)} vs ${fmt(single('direct').latency.p50)} ms)`, pass: overheadSingle <= 2 },
    { goal: `p50 overhead at most 2 ms over the direct subgraph calls (${CONCURRENCY} in flight)`, measured: `${fmt(overheadLoaded)} ms (${fmt(loaded('ours').latency.p50)} vs ${fmt(loaded('direct').latency.p50)} ms)`, pass: overheadLoaded <= 2 },
  ];
  const othersMax = Math.max(...pooled.map((p) => p.cpu['other processes'] ?? 0));
  const notes = [
    `One machine (${machine().nproc} cores): the load generator (this process), our gateway or the stock one, and the subgraphs, Redis and the broker all share its cores, so the absolute figures are lower than on separate machines; the CPU table shows who used what.`,
    `Load average (1 min) ${fmt(loadAvgBefore)} before the runs and ${fmt(loadAvgAfter)} after; processes outside this benchmark used up to ${fmt(othersMax, 0)}% of one core during a run${othersMax > 20 ? ': the machine was busy with other work, so these figures are noisy and lower than on an idle machine' : ''}.`,
    'Closed loop: each in-flight slot sends its next request when the previous answer has been read completely; latency is from send to the last byte. Only correct answers (order id, 3 lines, product names and prices, no errors) count.',
    'Stock gateway: @apollo/gateway + @apollo/server standalone with default settings, in its own process, the same supergraph file with this run\'s subgraph URLs, and a RemoteGraphQLDataSource that adds the signed x-shop-identity header (it does not verify a JWT, which ours does per request).',
    'Hive Gateway: @graphql-hive/gateway 2.15.1 (bench/peers/hive, its own folder and lockfile, @graphql-tools/delegate overridden to 12.2.1 as it needs) with its defaults, in-flight deduplication of identical subgraph requests included; the same supergraph and subgraph URLs, the signed x-shop-identity header added per subgraph request, no JWT verified. The Rust-runtime peer is the same with HIVE_ROUTER_RUNTIME=true (@graphql-hive/router-runtime).',
    'Direct: orders `order(id)` then inventory `_entities` for the distinct products, sequentially, merged in the load generator (which a gateway saves the client from doing).',
    sameAnswer ? 'All targets returned identical data before the runs.' : 'WARNING: the targets returned different data before the runs (see the log).',
    ...runs.filter((r) => r.result.cappedByCount).map((r) => `${r.target} at ${r.concurrency} in flight (round ${r.round}) stopped at the request cap (${MAX_REQUESTS}).`),
  ];

  printTable(figures);
  printTable(comparison);
  printTable(cpuPerRequestTable);
  printTable(cpuTable);
  printGoals(goals);
  for (const n of notes) console.log(`note: ${n}`);

  const file = writeResult({
    name: 'gateway',
    title: 'Federated query: our gateway vs stock Apollo Gateway vs Hive Gateway vs direct subgraph calls',
    date: new Date().toISOString(),
    machine: machine(),
    command: `node --conditions=@shop/source --import tsx bench/gateway.ts --concurrency ${CONCURRENCY} --duration ${DURATION_S} --warmup ${WARMUP_S} --latency-duration ${LATENCY_DURATION_S} --rounds ${ROUNDS} --max-requests ${MAX_REQUESTS}`,
    durationSeconds: Math.round((Date.now() - began) / 1000),
    notes,
    tables: [figures, comparison, cpuPerRequestTable, cpuTable],
    goals,
    raw: {
      orderId,
      query: ORDER_QUERY,
      loadAverage: { before: loadAvgBefore, after: loadAvgAfter },
      pooled,
      runs: runs.map(({ samples: _samples, ...r }) => r),
      ratio,
      hiveRatio,
      hiveRustRatio,
      overheadLoadedMs: overheadLoaded,
      overheadSingleMs: overheadSingle,
    },
  });
  console.log(`\nwrote ${file}`);
}

function sumCpu(pids: number[]): number {
  return pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0);
}

await runBenchmark('gateway', main);
