/**
 * Saga throughput benchmark (issue 11): open-loop `placeOrder` through the gateway at fixed rates,
 * each order watched on its own graphql-ws subscription (`orderStatusChanged(orderId, after: 0)`,
 * the web demo's selection) until CONFIRMED, REJECTED or CANCELLED. Per rate: rate asked and sent,
 * placed / final / lost, latency from the send to the final status seen by the client, the saga's
 * own time (PENDING `at` → final `at`), consumer lag at the end and whether it is back to 0 within
 * 2 s, CPU milliseconds per order and peak RSS of every process. Names the knee: the highest rate
 * with p99 ≤ 250 ms whose lag is back to 0 within 2 s of its end. Each rate first runs `--lead-in` seconds
 * uncounted (its figures are reported beside the counted ones): the first seconds at a new load level
 * measure V8 compiling for it, not the system's sustained rate.
 *
 *   node --conditions=@shop/source --import tsx bench/saga.ts [--rates 50,100,200,400,800] [--duration 10] [--customers 200]
 *        [--connections 64] [--settle 10] [--warmup 2] [--warmup-rate 20] [--lead-in 5] [--rss-limit-mb 512] [--max-unfinished 5000]
 *        [--hopeless-ms 10000] [--keep-going] [--replicas 1] [--key-classes] [--profile orders-1 [--profile-dir DIR]] [--name saga] [--per-second]
 *
 * `--replicas N` runs N replicas of each subgraph (one gateway, which spreads its HTTP and WebSocket traffic
 * over every replica; the Kafka consumer groups share the partitions among all of them). Per rate it
 * also counts the Redis commands (`INFO commandstats`) and Kafka records (high-water marks) per order.
 * `--key-classes` watches Redis through MONITOR and counts the commands per order by the class of key they
 * touch (which of them one hash slot holds, which spread over a cluster); it costs CPU, so its timings do not
 * count.
 *
 * `--profile NAME` records V8's CPU profile of one process (e.g. `orders-1`, `gateway-1`) during each rate's
 * schedule, through its inspector, writes it as `saga-NAME-RATE.cpuprofile` under --profile-dir (the system's temp
 * directory by default) and prints its busiest functions; the sampling costs CPU, so that run's timings do not count.
 *
 * Writes bench/results/saga.json (`saga-replicas-N.json` when --replicas is given, `NAME.json` with --name NAME). The load generator runs in this process on the same cores as
 * everything it measures; its own CPU per order is reported apart from the system's.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WsPool } from '../test/chaos/harness.js';
import { graphql } from '../test/support/clients.js';
import { listProducts, RESTOCK } from '../test/support/shop.js';
import { flagArg, numberArg, stringArg } from './lib/args.js';
import { createLagProbe, type ConsumerLag, type LagProbe } from './lib/consumer-lag.js';
import { createPool, runOpenLoop } from './lib/load.js';
import { openInspector, topFunctions, type InspectorSession } from './lib/inspector.js';
import { startKeyClassMonitor } from './lib/key-classes.js';
import { isTimelineGroup, startSagaTimeline, STAGES, type SagaTimeline } from './lib/saga-timeline.js';
import { createWorkCounters, workPerOrder, type WorkCounters, type WorkPerOrder } from './lib/work-counters.js';
import { cpuMsPer, cpuSnapshot, deltaPer, startRssSampler, wakeSnapshot, writeSnapshot, type NamedPids } from './lib/process-usage.js';
import {
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
import { onCleanup, runBenchmark, sleep, startBenchSystem } from './lib/system.js';
import { clientMsOf, finalStatusOf, isUnfinished, OrderPlacer, sagaMsOf, type Customer, type WatchedOrder } from './lib/watched-orders.js';

const RATES = parseRates(stringArg('rates', '50,100,200,400,800'));
const DURATION_S = numberArg('duration', 10);
const CUSTOMERS = Math.round(numberArg('customers', 200));
const CONNECTIONS = Math.round(numberArg('connections', 64));
const SETTLE_S = numberArg('settle', 10);
const WARMUP_S = numberArg('warmup', 2, undefined, { zero: true });
const WARMUP_RATE = numberArg('warmup-rate', 20);
/**
 * Seconds each rate first runs uncounted before its counted run (after a quiet wait): a freshly loaded
 * process spends its first seconds at a new load level compiling (V8 optimises and deoptimises on the
 * order of a hundred functions a second per process then), so without it a rate measures the step up.
 */
const LEAD_IN_S = numberArg('lead-in', 5, undefined, { zero: true });
const RSS_LIMIT_MB = numberArg('rss-limit-mb', 512);
const MAX_UNFINISHED = Math.round(numberArg('max-unfinished', 5_000));
const HOPELESS_MS = numberArg('hopeless-ms', 10_000);
/** Run the higher rates even after a hopeless one (each is still cut short): a baseline's whole curve. */
const KEEP_GOING = flagArg('keep-going');
const REPLICAS_ARG = stringArg('replicas', undefined);
const REPLICAS = Math.round(numberArg('replicas', 1));
const KEY_CLASSES = flagArg('key-classes');
/** Print each rate's latency second by second of its schedule (always in the JSON). */
const PER_SECOND = flagArg('per-second');
const PROFILE = stringArg('profile', undefined);
const PROFILE_DIR = stringArg('profile-dir', tmpdir());
const NAME_ARG = stringArg('name', undefined);
const RESULT_NAME = NAME_ARG ?? (KEY_CLASSES ? 'saga-key-classes' : REPLICAS_ARG === undefined ? 'saga' : `saga-replicas-${REPLICAS}`);

/** The issue's definitions and targets. */
const KNEE_P99_MS = 250;
const LAG_ZERO_WITHIN_MS = 2_000;
const TARGET = { rate: 200, p50Ms: 30, p99Ms: 150, kneeRate: 400, cpuMsPerOrder: 5 };
/** placeOrder requests unanswered beyond which a due send is skipped (and counted), so the client's memory stays bounded. */
const MAX_HTTP_IN_FLIGHT = 2_000;
/** Longest quiet wait between rates for the consumers to catch up, so one rate's backlog does not count against the next. */
const QUIET_WAIT_MS = 30_000;
const IDLE_MS = 3_000;

function parseRates(raw: string): number[] {
  const rates = raw.split(',').map((s) => Number(s.trim()));
  if (!rates.length || rates.some((r) => !Number.isFinite(r) || r <= 0 || r > 10_000)) throw new Error(`--rates expects positive numbers up to 10000, got ${raw}`);
  return rates;
}

interface RateFigures {
  readonly rate: number;
  readonly sentPerSecond: number;
  readonly sent: number;
  readonly skipped: number;
  readonly accepted: number;
  readonly refused: number;
  readonly refusals: Record<string, number>;
  readonly final: number;
  readonly finalByStatus: Record<string, number>;
  readonly lost: number;
  /** Why the schedule stopped early, when it did. */
  readonly gaveUp: string | undefined;
  readonly clientMs: Distribution;
  /** Sent → final p50 / p99 of the orders due in each second of the schedule: how a backlog came and went. */
  readonly bySecond: readonly { p50: number; p99: number }[];
  readonly sagaMs: Distribution;
  /** placeOrder sent → answered (the order is in Kafka by then). */
  readonly placeMs: Distribution;
  readonly lagAtEnd: ConsumerLag;
  /** Milliseconds after the rate's end at which the lag read 0; undefined when not within 2 s. */
  readonly lagZeroAfterMs: number | undefined;
  readonly lagAfter2s: number;
  /** Subscriptions that ended early and were resumed with `after`, and those that gave up (their orders count as lost). */
  readonly subscriptionsResumed: number;
  readonly subscriptionsGaveUp: number;
  readonly cpuMsPerOrder: Record<string, number>;
  readonly cpuMsPerOrderTotal: number;
  /** Voluntary context switches per order, by process: how many times each went to sleep and was woken. */
  readonly wakesPerOrder: Record<string, number>;
  /** Write system calls per order, by process: each write to a loopback socket can wake the reader. */
  readonly writesPerOrder: Record<string, number>;
  readonly loadGeneratorCpuMsPerOrder: number;
  /** Cores busy with work other than the system and this process during the rate: how noisy the machine was. */
  readonly otherWorkCores: number;
  readonly rssPeakBytes: Record<string, number>;
  readonly loadAverage: number;
  /** Redis commands and Kafka records per placed order, from before the rate to the end of its settle wait. */
  readonly work: WorkPerOrder;
  /** With --key-classes: Redis commands per placed order by key class. */
  readonly keyClassesPerOrder?: Record<string, number>;
  /** The uncounted lead-in at the same rate before it: sent → final, and the orders it lost. */
  readonly leadInMs?: Distribution;
  readonly leadInLost?: number;
  /** Where a confirmed order's time went, stage by stage (record timestamps and the client's clock; one machine, one clock). */
  readonly stages: Record<string, Distribution>;
}

async function main() {
  const began = Date.now();
  console.log(`saga benchmark: rates ${RATES.join(', ')} orders/s, ${DURATION_S} s each, ${CUSTOMERS} customers, ${REPLICAS} replica(s) of each subgraph`);
  console.log('starting the system (redis, broker, subgraphs, gateway)...');
  const system = await startBenchSystem({}, { replicas: { orders: REPLICAS, inventory: REPLICAS, notifications: REPLICAS } });
  const gatewayUrl = system.gatewayUrl;
  const pids: NamedPids = new Map([...system.processes.keys()].map((name) => [name, system.pidOf(name)]));
  console.log(`processes: ${[...pids].map(([n, p]) => `${n} (${p})`).join(', ')}`);
  if (PROFILE) {
    const proc = system.processes.get(PROFILE);
    if (!proc) throw new Error(`--profile ${PROFILE}: no such process (${[...pids.keys()].join(', ')})`);
    profiled = { name: PROFILE, session: await openInspector(proc) };
    const session = profiled.session;
    onCleanup(async () => session.close());
  }

  const customers: Customer[] = [];
  for (let i = 0; i < CUSTOMERS; i += 20) {
    const names = Array.from({ length: Math.min(20, CUSTOMERS - i) }, (_, k) => `saga-bench-${i + k}`);
    customers.push(...(await Promise.all(names.map(async (name) => ({ name, token: await system.token(name) })))));
  }

  // Enough stock for every order of every rate, spread over the whole catalog, so none is rejected for want of it.
  const products = await listProducts(gatewayUrl);
  const planned = RATES.reduce((s, r) => s + r * DURATION_S, 0) + RATES.reduce((s, r) => s + r * LEAD_IN_S, 0) + WARMUP_RATE * WARMUP_S;
  const perProduct = Math.ceil((planned * 1.1) / products.length) + 20;
  const admin = await system.token('saga-bench-admin', ['admin']);
  for (const p of products) {
    for (let missing = perProduct - p.stock.available; missing > 0; ) {
      const quantity = Math.min(missing, 100_000);
      const r = await graphql(gatewayUrl, RESTOCK, { productId: p.id, quantity }, { token: admin });
      if (r.errors?.length) throw new Error(`restock ${p.id}: ${JSON.stringify(r.errors)}`);
      missing -= quantity;
    }
  }
  console.log(`${products.length} products, each with at least ${fmtInt(perProduct)} in stock`);

  // One socket per customer, opened now and kept open, as a browser tab keeps its own.
  const ws = new WsPool([gatewayUrl], { lazy: false, keepAlive: 10_000 });
  const http = createPool(new URL(gatewayUrl).origin, CONNECTIONS);
  const lag = await createLagProbe(system.kafkaBrokers, isTimelineGroup);
  const counters = await createWorkCounters(system.redisUrl, system.kafkaBrokers);
  const timeline = await startSagaTimeline(system.kafkaBrokers);
  onCleanup(async () => {
    await timeline.close();
    await counters.close().catch(() => undefined);
    await ws.disposeAll();
    await http.close().catch(() => undefined);
    await lag.close().catch(() => undefined);
  });
  await Promise.all(
    customers.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          const client = ws.client(c.name, c.token, 0);
          const timer = setTimeout(() => reject(new Error(`${c.name}: graphql-ws did not connect within 20 s`)), 20_000);
          const offConnected = client.on('connected', () => done());
          const offClosed = client.on('closed', (e) => done(new Error(`${c.name}: graphql-ws closed while connecting: ${JSON.stringify(e)}`)));
          function done(err?: Error) {
            clearTimeout(timer);
            offConnected();
            offClosed();
            if (err) reject(err);
            else resolve();
          }
        }),
    ),
  );
  console.log(`${customers.length} graphql-ws connections open`);

  const placer = new OrderPlacer(gatewayUrl, http, ws, customers, products.map((p) => p.id));

  if (WARMUP_S > 0) {
    console.log(`warm-up: ${WARMUP_RATE} orders/s for ${WARMUP_S} s (not counted)`);
    await runRate(WARMUP_RATE, WARMUP_S, placer, lag, counters, pids, timeline);
  }

  // What the processes burn with no orders at all, to read the per-order figures against.
  const idleBefore = cpuSnapshot(pids);
  await sleep(IDLE_MS);
  const idleMsPerSecond = cpuMsPer(idleBefore, cpuSnapshot(pids), IDLE_MS / 1000);
  const idleTotal = [...idleMsPerSecond.values()].reduce((a, b) => a + b, 0);
  const idleNote = `idle, they used ${fmt(idleTotal, 0)} ms of CPU per second together (${[...idleMsPerSecond].map(([n, v]) => `${n} ${fmt(v, 0)}`).join(', ')}), measured over ${IDLE_MS / 1000} s before the first rate`;
  console.log(idleNote);

  const results: RateFigures[] = [];
  const stoppedBecause: string[] = [];
  for (const rate of RATES) {
    let leadIn: RateFigures | undefined;
    if (LEAD_IN_S > 0) {
      console.log(`\n${rate} orders/s for ${LEAD_IN_S} s, the lead-in (not counted)`);
      leadIn = await runRate(rate, LEAD_IN_S, placer, lag, counters, pids, timeline);
      console.log(`  lead-in: sent ${leadIn.sent}, final ${leadIn.final}, lost ${leadIn.lost}; sent → final p50 ${fmt(leadIn.clientMs.p50, 1)} ms, p99 ${fmt(leadIn.clientMs.p99, 1)} ms`);
    }
    console.log(`\n${rate} orders/s for ${DURATION_S} s`);
    const r: RateFigures = { ...(await runRate(rate, DURATION_S, placer, lag, counters, pids, timeline)), ...(leadIn ? { leadInMs: leadIn.clientMs, leadInLost: leadIn.lost } : {}) };
    results.push(r);
    if (PER_SECOND) console.log(`  sent → final p50/p99 ms by second of the schedule: ${r.bySecond.map((b, i) => `${i}: ${fmtInt(b.p50)}/${fmtInt(b.p99)}`).join(', ')}`);
    console.log(
      `  sent ${fmt(r.sentPerSecond, 1)}/s (${r.sent}${r.skipped ? `, ${r.skipped} skipped` : ''}), accepted ${r.accepted}, final ${r.final}, lost ${r.lost}` +
        `; sent → final p50 ${fmt(r.clientMs.p50, 1)} ms, p99 ${fmt(r.clientMs.p99, 1)} ms, max ${fmt(r.clientMs.max, 1)} ms; saga p50 ${fmt(r.sagaMs.p50, 1)} ms` +
        `; lag at end ${r.lagAtEnd.total}, ${r.lagZeroAfterMs !== undefined ? `0 after ${fmtInt(r.lagZeroAfterMs)} ms` : `still ${r.lagAfter2s} after 2 s`}` +
        `; CPU ${fmt(r.cpuMsPerOrderTotal, 1)} ms/order${r.gaveUp ? `; stopped: ${r.gaveUp}` : ''}`,
    );
    const hopeless = r.gaveUp ?? (r.clientMs.p99 > HOPELESS_MS ? `p99 ${fmtInt(r.clientMs.p99)} ms > ${fmtInt(HOPELESS_MS)} ms` : r.lost > 0 ? `${r.lost} orders not final ${SETTLE_S} s after the end` : undefined);
    if (hopeless && !KEEP_GOING) {
      const skipped = RATES.slice(RATES.indexOf(rate) + 1);
      if (skipped.length) stoppedBecause.push(`Stopped after ${rate} orders/s (${hopeless}): ${skipped.join(', ')} orders/s not run.`);
      break;
    }
    if (hopeless) stoppedBecause.push(`${rate} orders/s was beyond the system (${hopeless}); --keep-going ran the next rates anyway, possibly on a backlog from this one.`);
  }

  report(results, stoppedBecause, products.length, { note: idleNote, msPerSecond: Object.fromEntries(idleMsPerSecond) }, began);
}

/** Sent → final of the orders due in each second of the schedule (unfinished ones count as the worst). */
function bySecond(orders: readonly WatchedOrder[], startedAt: number): { p50: number; p99: number }[] {
  const seconds: number[][] = [];
  for (const o of orders) {
    if (!o.orderId) continue;
    const i = Math.max(0, Math.floor((o.scheduledAt - startedAt) / 1000));
    (seconds[i] ??= []).push(clientMsOf(o) ?? Infinity);
  }
  return Array.from(seconds, (ms = []) => {
    const d = distribution(ms);
    return { p50: d.p50, p99: d.p99 };
  });
}

/** The process --profile names, with its inspector session. */
let profiled: { name: string; session: InspectorSession } | undefined;

/** Runs `during` under the profiled process's CPU profiler, saves the profile and prints its busiest functions. */
async function profileDuring<T>(target: { name: string; session: InspectorSession }, rate: number, during: () => Promise<T>): Promise<T> {
  const { result, profile } = await target.session.profile(during);
  await mkdir(PROFILE_DIR, { recursive: true });
  const file = join(PROFILE_DIR, `saga-${target.name}-${rate}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  console.log(`  ${target.name}'s CPU profile: ${file}; busiest functions (self time):`);
  for (const f of topFunctions(profile, 25)) console.log(`    ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
  return result;
}

/** One rate: the open-loop schedule, then the lag check, the settle wait, and the CPU and RSS of every process. */
async function runRate(rate: number, durationS: number, placer: OrderPlacer, lag: LagProbe, counters: WorkCounters, pids: NamedPids, timeline: SagaTimeline): Promise<RateFigures> {
  const orders: WatchedOrder[] = [];
  let unfinished = 0;
  let oldest = 0;
  let lastAgeCheck = 0;
  const loadAvg = loadAverage();
  const workBefore = await counters.snapshot();
  const keyClasses = KEY_CLASSES ? await startKeyClassMonitor(counters.redisUrl) : undefined;
  const cpuBefore = cpuSnapshot(pids);
  const wakesBefore = wakeSnapshot(pids);
  const writesBefore = writeSnapshot(pids);
  const selfBefore = process.cpuUsage();
  const busyBefore = machineBusySeconds();
  const wallBefore = Date.now();
  const rss = startRssSampler(pids);

  const giveUp = () => {
    if (unfinished > MAX_UNFINISHED) return `${unfinished} orders unfinished (limit ${MAX_UNFINISHED})`;
    const now = Date.now();
    if (now - lastAgeCheck < 100) return undefined;
    lastAgeCheck = now;
    while (oldest < orders.length && !isUnfinished(orders[oldest]!)) oldest++;
    const age = oldest < orders.length ? now - orders[oldest]!.scheduledAt : 0;
    return age > HOPELESS_MS ? `an order still unfinished after ${fmtInt(age)} ms (limit ${fmtInt(HOPELESS_MS)} ms)` : undefined;
  };
  const schedule = () => runOpenLoop({
    rate,
    durationMs: durationS * 1000,
    maxInFlight: MAX_HTTP_IN_FLIGHT,
    giveUp,
    send: async (_n, scheduledAt) => {
      unfinished++;
      const order = await placer.place(scheduledAt, orders);
      if (order.subscriber) void order.subscriber.finished.then(() => unfinished--);
      else unfinished--;
    },
  });
  const loop = profiled ? await profileDuring(profiled, rate, schedule) : await schedule();

  const firstReadAt = Date.now();
  const lagAtEnd = await lag.read();
  let lagZeroAfterMs = lagAtEnd.total === 0 ? firstReadAt - loop.endedAt : undefined;
  let lagAfter2s = lagAtEnd.total;
  if (lagZeroAfterMs === undefined) {
    const waitFrom = Date.now();
    const w = await lag.waitForZero(Math.max(0, loop.endedAt + LAG_ZERO_WITHIN_MS - waitFrom));
    if (w.zeroAfterMs !== undefined && waitFrom + w.zeroAfterMs - loop.endedAt <= LAG_ZERO_WITHIN_MS) lagZeroAfterMs = waitFrom + w.zeroAfterMs - loop.endedAt;
    lagAfter2s = w.last.total;
  }

  // Orders still on their way, up to the settle bound; the rest are lost.
  const settleBy = loop.endedAt + SETTLE_S * 1000;
  while (unfinished > 0 && Date.now() < settleBy) await sleep(50);
  for (const o of orders) if (o.subscriber && !o.subscriber.isDone) o.subscriber.stop('timeout');

  const accepted = orders.filter((o) => o.orderId).length;
  const cpuAfter = cpuSnapshot(pids);
  const wakesPerOrder = Object.fromEntries(deltaPer(wakesBefore, wakeSnapshot(pids), accepted));
  const writesPerOrder = Object.fromEntries(deltaPer(writesBefore, writeSnapshot(pids), accepted));
  const self = process.cpuUsage(selfBefore);
  const busy = machineBusySeconds() - busyBefore;
  const wall = (Date.now() - wallBefore) / 1000;
  const cpu = cpuMsPer(cpuBefore, cpuAfter, accepted);
  const ours = [...cpuAfter].reduce((sum, [name, sec]) => sum + sec - (cpuBefore.get(name) ?? sec), 0) + (self.user + self.system) / 1e6;
  const rssPeak = rss.peaks();
  rss.stop();
  const work = workPerOrder(workBefore, await counters.snapshot(), accepted);
  const byClass = await keyClasses?.stop();
  const keyClassesPerOrder = byClass && accepted > 0 ? Object.fromEntries([...byClass].sort((a, b) => b[1] - a[1]).map(([c, n]) => [c, n / accepted])) : undefined;

  // A quiet system for the next rate: its figures should not pay for this one's backlog.
  await lag.waitForZero(QUIET_WAIT_MS, 200);
  await timeline.catchUp();
  await sleep(500);

  const refusals: Record<string, number> = {};
  const finalByStatus: Record<string, number> = {};
  for (const o of orders) {
    if (o.error) refusals[o.error] = (refusals[o.error] ?? 0) + 1;
    const s = finalStatusOf(o);
    if (s) finalByStatus[s] = (finalByStatus[s] ?? 0) + 1;
  }
  const final = Object.values(finalByStatus).reduce((s, n) => s + n, 0);
  const values = (f: (o: WatchedOrder) => number | undefined) => orders.map(f).filter((v): v is number => v !== undefined);
  const cpuMsPerOrder = Object.fromEntries(cpu);
  return {
    rate,
    sentPerSecond: loop.sent / Math.max(0.001, (loop.endedAt - loop.startedAt) / 1000),
    sent: loop.sent,
    skipped: loop.skipped,
    accepted,
    refused: orders.length - accepted,
    refusals,
    final,
    finalByStatus,
    lost: accepted - final,
    gaveUp: loop.gaveUp,
    clientMs: distribution(values(clientMsOf)),
    bySecond: bySecond(orders, loop.startedAt),
    sagaMs: distribution(values(sagaMsOf)),
    placeMs: distribution(values((o) => (o.orderId && o.answeredAt !== undefined ? o.answeredAt - o.scheduledAt : undefined))),
    lagAtEnd,
    lagZeroAfterMs,
    lagAfter2s,
    subscriptionsResumed: orders.filter((o) => (o.subscriber?.record.segments.length ?? 1) > 1).length,
    subscriptionsGaveUp: orders.filter((o) => o.subscriber?.gaveUp).length,
    cpuMsPerOrder,
    wakesPerOrder,
    writesPerOrder,
    cpuMsPerOrderTotal: Object.values(cpuMsPerOrder).reduce((s, v) => s + v, 0),
    loadGeneratorCpuMsPerOrder: accepted > 0 ? (self.user + self.system) / 1000 / accepted : NaN,
    otherWorkCores: Math.max(0, (busy - ours) / wall),
    rssPeakBytes: Object.fromEntries(rssPeak),
    loadAverage: loadAvg,
    work,
    ...(keyClassesPerOrder ? { keyClassesPerOrder } : {}),
    stages: timeline.stages(orders),
  };
}

/** Ran its whole schedule, lost nothing, and the generator kept up: the rate was really offered and absorbed. */
const ranClean = (r: RateFigures) => !r.gaveUp && r.skipped === 0 && r.lost === 0 && r.refused === 0;
const inKnee = (r: RateFigures) => ranClean(r) && r.clientMs.p99 <= KNEE_P99_MS && r.lagZeroAfterMs !== undefined;
const mib = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : fmt(bytes / 2 ** 20, 0));

function report(results: RateFigures[], stoppedBecause: string[], productCount: number, idle: { note: string; msPerSecond: Record<string, number> }, began: number) {
  const knee = results.filter(inKnee).reduce<RateFigures | undefined>((best, r) => (!best || r.rate > best.rate ? r : best), undefined);
  const processNames = [...new Set(results.flatMap((r) => Object.keys(r.cpuMsPerOrder)))];

  const latency: ResultTable = {
    title: `Open-loop placeOrder through the gateway, ${DURATION_S} s per rate${LEAD_IN_S > 0 ? ` after a lead-in of ${LEAD_IN_S} s at the same rate` : ''}, ${CUSTOMERS} customers (one graphql-ws connection each), each order watched on its own subscription`,
    columns: ['orders/s asked', 'sent/s', 'placed', 'final', 'lost', 'p50 ms', 'p99 ms', 'max ms', 'saga p50 ms', 'placeOrder p50 ms', 'lag at end', 'lag 0 within 2 s', 'CPU ms/order', 'lead-in p50 / p99 ms (not counted)', 'note'],
    rows: results.map((r) => [
      r.rate,
      fmt(r.sentPerSecond, 1),
      `${fmtInt(r.accepted)}${r.refused ? ` (+${r.refused} refused)` : ''}`,
      `${fmtInt(r.final)}${Object.keys(r.finalByStatus).some((s) => s !== 'CONFIRMED') ? ` (${Object.entries(r.finalByStatus).map(([s, n]) => `${n} ${s}`).join(', ')})` : ''}`,
      r.lost,
      fmt(r.clientMs.p50, 1),
      fmt(r.clientMs.p99, 1),
      fmt(r.clientMs.max, 1),
      fmt(r.sagaMs.p50, 1),
      fmt(r.placeMs.p50, 1),
      fmtInt(r.lagAtEnd.total),
      r.lagZeroAfterMs !== undefined ? `yes (${fmtInt(r.lagZeroAfterMs)} ms)` : `no (${fmtInt(r.lagAfter2s)} left)`,
      fmt(r.cpuMsPerOrderTotal, 1),
      r.leadInMs ? `${fmt(r.leadInMs.p50, 1)} / ${fmt(r.leadInMs.p99, 1)}${r.leadInLost ? ` (${r.leadInLost} lost)` : ''}` : '',
      [
        r === knee ? 'knee' : '',
        r.gaveUp ? `stopped: ${r.gaveUp}` : '',
        r.skipped ? `${r.skipped} sends skipped` : '',
        r.subscriptionsResumed ? `${r.subscriptionsResumed} subscriptions resumed` : '',
        r.subscriptionsGaveUp ? `${r.subscriptionsGaveUp} subscriptions gave up` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ]),
  };
  const cpu: ResultTable = {
    title: 'CPU milliseconds per placed order, by process (/proc/<pid>/stat utime + stime, from before each rate to the end of its settle wait)',
    columns: ['orders/s asked', 'final / placed', ...processNames, 'sum', 'load generator (not in the sum)', 'other work on the machine (cores)'],
    rows: results.map((r) => [
      r.rate,
      `${fmtInt(r.final)} / ${fmtInt(r.accepted)}`,
      ...processNames.map((n) => fmt(r.cpuMsPerOrder[n] ?? NaN, 2)),
      fmt(r.cpuMsPerOrderTotal, 2),
      fmt(r.loadGeneratorCpuMsPerOrder, 2),
      fmt(r.otherWorkCores, 2),
    ]),
  };
  /** A count per placed order for every process, and their sum, one row per rate. */
  const perProcess = (title: string, perOrder: (r: RateFigures) => Record<string, number>): ResultTable => ({
    title,
    columns: ['orders/s asked', ...processNames, 'sum'],
    rows: results.map((r) => {
      const counts = perOrder(r);
      return [r.rate, ...processNames.map((n) => fmt(counts[n] ?? NaN, 1)), fmt(Object.values(counts).reduce((s, v) => s + v, 0), 1)];
    }),
  });
  const wakes = perProcess(
    'Wake-ups per placed order, by process (voluntary context switches of all its threads, /proc/<pid>/task/*/status, same window as the CPU)',
    (r) => r.wakesPerOrder,
  );
  const writes = perProcess(
    'Write system calls per placed order, by process (syscw of /proc/<pid>/io: writes to sockets and files, same window as the CPU)',
    (r) => r.writesPerOrder,
  );
  const stages: ResultTable = {
    title: 'Where a confirmed order\'s time goes: p50 ms of each stage (Kafka record timestamps, the client\'s send, answer and receipt; one machine, one clock)',
    columns: ['orders/s asked', ...STAGES],
    rows: results.map((r) => [r.rate, ...STAGES.map((s) => fmt(r.stages[s]?.p50 ?? NaN, 1))]),
  };
  const rss: ResultTable = {
    title: `Peak RSS by process (MiB, sampled every 500 ms during each rate); bound ${RSS_LIMIT_MB} MiB per process at the highest rate`,
    columns: ['orders/s asked', ...processNames],
    rows: results.map((r) => [r.rate, ...processNames.map((n) => mib(r.rssPeakBytes[n]))]),
  };

  const topCommands = [...new Set(results.flatMap((r) => Object.entries(r.work.redisCallsPerOrder).filter(([, v]) => v >= 0.5).map(([c]) => c)))].sort();
  const topics = [...new Set(results.flatMap((r) => Object.keys(r.work.kafkaRecordsPerOrder)))].sort();
  const work: ResultTable = {
    title: 'Redis commands (INFO commandstats calls, those run inside scripts counted too) and Kafka records (high-water marks) per placed order; commands under 0.5 per order left out of the columns, not the sum',
    columns: ['orders/s asked', 'Redis calls/order', ...topCommands, 'Kafka records/order', ...topics],
    rows: results.map((r) => [
      r.rate,
      fmt(r.work.redisCallsPerOrderTotal, 1),
      ...topCommands.map((c) => fmt(r.work.redisCallsPerOrder[c] ?? 0, 2)),
      fmt(r.work.kafkaRecordsPerOrderTotal, 2),
      ...topics.map((t) => fmt(r.work.kafkaRecordsPerOrder[t] ?? 0, 2)),
    ]),
  };

  const classNames = [...new Set(results.flatMap((r) => Object.keys(r.keyClassesPerOrder ?? {})))];
  const keyClassTable: ResultTable = {
    title: 'Redis commands per placed order by the key they touch first (MONITOR; scripts\' own commands included): one-slot classes stay on one master of a cluster',
    columns: ['key class', ...results.map((r) => `${r.rate} orders/s`)],
    rows: classNames.map((c) => [c, ...results.map((r) => fmt(r.keyClassesPerOrder?.[c] ?? 0, 2))]),
  };

  const at = results.find((r) => r.rate === TARGET.rate);
  const highest = results.at(-1);
  const overLimit = highest ? Object.entries(highest.rssPeakBytes).filter(([, b]) => b > RSS_LIMIT_MB * 2 ** 20) : [];
  const goals: GoalCheck[] = [
    {
      goal: `${TARGET.rate} orders/s sustained with p50 ≤ ${TARGET.p50Ms} ms and p99 ≤ ${TARGET.p99Ms} ms (sent → final status on the subscription)`,
      measured: at
        ? `p50 ${fmt(at.clientMs.p50, 1)} ms, p99 ${fmt(at.clientMs.p99, 1)} ms; sent ${fmt(at.sentPerSecond, 1)}/s, lost ${at.lost}${at.gaveUp ? `; stopped: ${at.gaveUp}` : ''}${at.lagZeroAfterMs === undefined ? '; lag not back to 0 within 2 s' : ''}`
        : `${TARGET.rate} orders/s not run`,
      pass: at ? ranClean(at) && at.lagZeroAfterMs !== undefined && at.clientMs.p50 <= TARGET.p50Ms && at.clientMs.p99 <= TARGET.p99Ms : null,
    },
    {
      goal: `knee ≥ ${TARGET.kneeRate} orders/s (highest rate with p99 ≤ ${KNEE_P99_MS} ms and the consumer lag back to 0 within ${LAG_ZERO_WITHIN_MS / 1000} s of its end)`,
      measured: knee ? `${knee.rate} orders/s (p99 ${fmt(knee.clientMs.p99, 1)} ms)` : 'no rate qualified',
      pass: (knee?.rate ?? 0) >= TARGET.kneeRate,
    },
    {
      goal: `≤ ${TARGET.cpuMsPerOrder} ms CPU per order summed over all processes, at ${TARGET.rate} orders/s`,
      measured: at ? `${fmt(at.cpuMsPerOrderTotal, 2)} ms (${Object.entries(at.cpuMsPerOrder).map(([n, v]) => `${n} ${fmt(v, 1)}`).join(', ')})` : `${TARGET.rate} orders/s not run`,
      pass: at && Number.isFinite(at.cpuMsPerOrderTotal) ? at.cpuMsPerOrderTotal <= TARGET.cpuMsPerOrder : null,
    },
    {
      goal: `every process's RSS ≤ ${RSS_LIMIT_MB} MiB at the highest rate run`,
      measured: highest
        ? `${highest.rate} orders/s: ${Object.entries(highest.rssPeakBytes).map(([n, b]) => `${n} ${mib(b)}`).join(', ')} MiB peak`
        : 'no rate run',
      pass: highest ? overLimit.length === 0 : null,
    },
  ];

  const m = machine();
  const loads = results.map((r) => r.loadAverage);
  const notes = [
    `${REPLICAS} replica(s) of each subgraph and one gateway, which spreads its HTTP and WebSocket traffic over every replica of each subgraph; the Kafka consumer groups spread the partitions over every replica.`,
    `Knee: the highest rate that ran its whole schedule with nothing lost or refused, p99 ≤ ${KNEE_P99_MS} ms and the consumer lag back to 0 within ${LAG_ZERO_WITHIN_MS / 1000} s of the rate's end: ${knee ? `${knee.rate} orders/s` : 'none'}.`,
    ...(LEAD_IN_S > 0
      ? [
          `Lead-in: each rate first runs ${LEAD_IN_S} s uncounted, then the system goes quiet (lag 0), then the counted ${DURATION_S} s. A process meeting a higher load than before spends its first seconds compiling: with --trace-opt, V8 finished 70–220 optimisations a second in each of the gateway, orders and inventory during the first 8 s at 300 orders/s (and 30–40 deoptimisations a second in orders), and a backlog of 1–4 s built up; the same rate run again right after is that step's steady state. The lead-in's own p50 / p99 is in the table: it is what a cold step up to that rate costs.`,
        ]
      : []),
    `Open loop: each placeOrder is sent when the clock says (rate × duration sends at most, none after the duration, a due send skipped while ${MAX_HTTP_IN_FLIGHT} are unanswered); latency counts from the scheduled send, so time an order waited in the client counts too. One line of one unit of a product, round-robin over the ${productCount} products of the catalog (restocked first), paid with tok_visa.`,
    `Final = CONFIRMED, REJECTED or CANCELLED seen on the order's subscription (orderStatusChanged(orderId, after: 0) with the web demo's selection); lost = placed but not final ${SETTLE_S} s after the rate's end. Saga p50 = the final change's \`at\` minus the PENDING change's \`at\`, both stamped by the orders subgraph.`,
    'Consumer lag: sum over every consumer group (listGroups) and every partition of the topics its members subscribe to, of the high-water mark minus the committed offset (kafkajs admin fetchTopicOffsets / fetchOffsets); read right after the last send, then polled every 100 ms for 2 s.',
    "Stages: the benchmark reads every record of the shop's topics with a group of its own (a fetch waits for 1 MiB or 2 s, so it seldom wakes the broker; it commits nothing and is left out of the lag), and takes each confirmed order's moments from the records' timestamps (set by the producing service when it sends) and from the client's send, answer and receipt, all on this machine's one clock. Each stage's p50 is over the confirmed orders of the rate.",
    `A rate is stopped early when more than ${MAX_UNFINISHED} orders are unfinished or one has waited more than ${fmtInt(HOPELESS_MS)} ms; no higher rate runs after a stopped one, one with p99 above that, or one that lost orders.`,
    `One machine (${m.nproc} cores, shared with other work): the load generator, the gateway, the subgraphs, the broker and redis-server compete for the same cores, so the figures are noisy from run to run. Load average (1 min) at the start of each rate: ${loads.map((l) => fmt(l, 2)).join(', ')}; cores busy with other work during each rate (from /proc/stat, minus every process measured here): ${results.map((r) => fmt(r.otherWorkCores, 2)).join(', ')}.`,
    `CPU per order counts from just before a rate to the end of its settle wait and divides by the orders placed, so it includes what the processes spend when idle (timers, heartbeats, fetch polls): ${idle.note}. Where orders were lost the system was still working through them (and perhaps an earlier rate's backlog), so that row's CPU per order means little.`,
    ...stoppedBecause,
  ];

  printTable(latency);
  printTable(cpu);
  printTable(wakes);
  printTable(writes);
  printTable(stages);
  printTable(rss);
  printTable(work);
  if (KEY_CLASSES) printTable(keyClassTable);
  printGoals(goals);
  for (const n of notes) console.log(`note: ${n}`);
  const file = writeResult({
    name: RESULT_NAME,
    title: `Saga throughput: placeOrder to the final status, open loop at fixed rates${REPLICAS_ARG === undefined ? '' : `, ${REPLICAS} replica(s) of each subgraph`}`,
    date: new Date().toISOString(),
    machine: m,
    command: `node --conditions=@shop/source --import tsx bench/saga.ts --rates ${RATES.join(',')} --duration ${DURATION_S} --customers ${CUSTOMERS} --rss-limit-mb ${RSS_LIMIT_MB} --lead-in ${LEAD_IN_S}${REPLICAS_ARG === undefined ? '' : ` --replicas ${REPLICAS}`}${KEY_CLASSES ? ' --key-classes' : ''}${NAME_ARG ? ` --name ${NAME_ARG}` : ''}`,
    durationSeconds: Math.round((Date.now() - began) / 1000),
    notes,
    tables: KEY_CLASSES ? [latency, cpu, wakes, writes, stages, rss, work, keyClassTable] : [latency, cpu, wakes, writes, stages, rss, work],
    goals,
    raw: { knee: knee?.rate ?? null, rssLimitMb: RSS_LIMIT_MB, idleCpuMsPerSecond: idle.msPerSecond, rates: results },
  });
  console.log(`\nwrote ${file}`);
}

await runBenchmark(RESULT_NAME, main);
