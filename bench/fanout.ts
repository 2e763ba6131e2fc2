/**
 * Subscription fan-out benchmark (issue 4): N graphql-ws clients (default 10,000) on ONE gateway
 * process, all subscribed to `orderStatusChanged` of one order with cross-subgraph fields, then one
 * status change (cancelOrder of an order placed with tok_timeout, which otherwise stays
 * INVENTORY_RESERVED). Measures, per client, the time from just before the mutation is sent to the
 * CANCELLED event's arrival (p50/p99), the spread from the first client's receipt to the last, and
 * the gateway's memory per subscriber (RSS from /proc/<pid>/status after connecting minus before,
 * divided by the subscribers added).
 *
 *   node --conditions=@shop/source --import tsx bench/fanout.ts [--clients 10000] [--batch 250] [--selection full|own] [--workers <cores>]
 *
 * Writes bench/results/fanout.json. The clients live in W worker processes (bench/lib/fanout-worker.ts,
 * forked with `node --conditions=@shop/source --import tsx`; client i in worker i mod W); this process only coordinates: it
 * tells the workers to open each batch (a batch split across them, the next batch when the whole
 * batch has subscribed, so the gateway sees the same connection rate whatever W), reads the memory,
 * sends the mutation and, at the end, gathers every worker's receipt times (absolute
 * `performance.timeOrigin + performance.now()` ms, comparable across processes) in one message each.
 * Each worker holds its share of the sockets, so its `ulimit -n` must exceed N / W (and the
 * gateway's N); `npm run bench` raises the soft limit to the hard one. The workers still share the
 * machine's cores with the gateway: receipt times include each worker working through its share of
 * the messages one after the other.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { orderChannels } from '@shop/subgraph-orders';
import { TSX_NODE_ARGS } from '../scripts/lib/processes.js';
import { REPO_ROOT } from '../scripts/lib/system.js';
import { CANCEL_ORDER } from '../test/support/shop.js';
import { eventually, graphql } from '../test/support/clients.js';
import { numberArg, stringArg } from './lib/args.js';
import { fdLimit, now, type Collected, type FromWorker, type RequestName, type WorkerRequests } from './lib/fanout-protocol.js';
import { openInspector, type InspectorSession } from './lib/inspector.js';
import {
  cpuSeconds,
  distribution,
  fmt,
  fmtInt,
  loadAverage,
  machine,
  printGoals,
  printTable,
  rssBytes,
  writeResult,
  type GoalCheck,
  type ResultTable,
} from './lib/report.js';
import { metricValue, onCleanup, orderState, placeBenchOrder, runBenchmark, sleep, startBenchSystem } from './lib/system.js';

const REQUESTED = numberArg('clients', 10_000);
const BATCH = numberArg('batch', 250);
const SELECTION = stringArg('selection', 'full');
/** One client process per core by default (2 on the 2-core machine the results come from), at most 8. */
const WORKERS = numberArg('workers', Math.min(8, Math.max(1, availableParallelism())));
const BATCH_TIMEOUT_MS = 30_000;
const CONNECT_PHASE_MS = 300_000;
const DELIVERY_TIMEOUT_MS = 30_000;
const WORKER_START_MS = 60_000;
const WORKER_REQUEST_MS = 30_000;
const MUTATION_TIMEOUT_MS = 30_000;
const CUSTOMER = 'bench-fanout';
const WORKER_FILE = fileURLToPath(new URL('./lib/fanout-worker.ts', import.meta.url));

const FIELDS = {
  /** Fields from orders plus the order's lines with product names from inventory: the federated case. */
  full: 'orderId sequence status previous at order { id status lines { quantity product { id name } } }',
  /** Only the fields the orders subgraph publishes (no entity fetch per event). */
  own: 'orderId sequence status previous at',
} as const;
if (SELECTION !== 'full' && SELECTION !== 'own') throw new Error('--selection is full or own');
if (!Number.isInteger(WORKERS)) throw new Error('--workers expects a whole number');
const SUBSCRIPTION = `subscription Watch($orderId: ID!) { orderStatusChanged(orderId: $orderId) { ${FIELDS[SELECTION]} } }`;

type Delivered = Extract<FromWorker, { type: 'delivered' }>;

/** A forked client process, as the coordinator sees it. */
interface Worker {
  readonly index: number;
  readonly pid: number;
  readonly fdLimit: { soft: number; hard: number };
  /** Sends a request and resolves with the answer; rejects after `timeoutMs`, or when the worker exits. */
  request<K extends RequestName>(type: K, req: WorkerRequests[K]['req'], timeoutMs?: number): Promise<WorkerRequests[K]['res']>;
  /** The worker's `delivered` message (after `arm`: every subscribed client of it has the CANCELLED event). */
  readonly delivered: Promise<Delivered>;
  /** Why the worker is gone, once it is. */
  exitReason(): string | undefined;
}

/** Every forked worker, stopped by pid at cleanup (and killed at exit should a cleanup not run). */
const forked: { child: ChildProcess; exited: Promise<void> }[] = [];
process.once('exit', () => {
  for (const { child } of forked) {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** SIGTERM by pid, then SIGKILL after 5 s; bounded either way. */
async function stopWorker({ child, exited }: (typeof forked)[number]): Promise<void> {
  const pid = child.pid;
  if (!pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await withTimeout(exited.then(() => true), 5_000)) return;
  console.warn(`worker pid ${pid} did not stop on SIGTERM within 5 s: SIGKILL`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await withTimeout(exited, 2_000);
}

function startWorker(index: number): Promise<Worker> {
  const child = fork(WORKER_FILE, [], {
    cwd: REPO_ROOT,
    execArgv: [...TSX_NODE_ARGS],
    // Typed arrays cross the channel as typed arrays.
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  forked.push({ child, exited });
  let reason: string | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let onHello: ((m: Extract<FromWorker, { type: 'hello' }>) => void) | undefined;
  let onGone: ((e: Error) => void) | undefined;
  let resolveDelivered: (m: Delivered) => void = () => undefined;
  const delivered = new Promise<Delivered>((r) => (resolveDelivered = r));

  const gone = (why: string) => {
    reason ??= `worker ${index} (pid ${child.pid ?? '?'}) ${why}`;
    for (const p of pending.values()) p.reject(new Error(reason));
    pending.clear();
    onGone?.(new Error(reason));
  };
  child.on('error', (err) => gone(`failed: ${err.message}`));
  child.once('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
  child.on('message', (msg: FromWorker) => {
    if (msg.type === 'hello') onHello?.(msg);
    else if (msg.type === 'delivered') resolveDelivered(msg);
    else {
      const p = pending.get(msg.id);
      if (!p) return; // answered after its timeout
      pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(`worker ${index}: ${msg.error}`));
      else p.resolve(msg.body);
    }
  });

  const request = <K extends RequestName>(type: K, req: WorkerRequests[K]['req'], timeoutMs = WORKER_REQUEST_MS) =>
    new Promise<WorkerRequests[K]['res']>((resolve, reject) => {
      if (reason) return reject(new Error(reason));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`worker ${index} (pid ${child.pid}): no answer to ${type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as WorkerRequests[K]['res']);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ type, id, ...req }, (err) => {
        if (!err) return;
        const p = pending.get(id);
        pending.delete(id);
        p?.reject(new Error(`worker ${index}: ${err.message}`));
      });
    });

  return new Promise<Worker>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${index} (pid ${child.pid}) did not start within ${WORKER_START_MS / 1000} s`)), WORKER_START_MS);
    onGone = (e) => {
      clearTimeout(timer);
      reject(e);
    };
    onHello = (hello) => {
      clearTimeout(timer);
      onGone = undefined;
      resolve({ index, pid: hello.pid, fdLimit: hello.fdLimit, request, delivered, exitReason: () => reason });
    };
  });
}

/** The soft and hard open-files limits of another process, from /proc/<pid>/limits. */
function procFdLimit(pid: number): { soft: number; hard: number } {
  try {
    const m = readFileSync(`/proc/${pid}/limits`, 'utf8').match(/^Max open files\s+(\S+)\s+(\S+)/m);
    const n = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
    return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: NaN, hard: NaN };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

/** How many of clients [from, to) go to each worker (client i to worker i mod W). */
function shares(from: number, to: number, workers: number): number[] {
  const out = new Array<number>(workers).fill(0);
  for (let i = from; i < to; i++) out[i % workers]!++;
  return out;
}

const mergeErrors = (lists: Iterable<[string, number][]>) => {
  const merged = new Map<string, number>();
  for (const list of lists) for (const [m, n] of list) merged.set(m, (merged.get(m) ?? 0) + n);
  return merged;
};

async function main() {
  const began = Date.now();
  const notes: string[] = [];
  const softLimit = fdLimit();
  const hardLimit = fdLimit(true);
  console.log(`fan-out benchmark: ${fmtInt(REQUESTED)} graphql-ws clients in ${WORKERS} worker process${WORKERS === 1 ? '' : 'es'} on one gateway, batches of ${BATCH}, selection "${SELECTION}"`);

  console.log('starting the system (redis, broker, subgraphs, gateway)...');
  const system = await startBenchSystem({
    WS_MAX_CONNECTIONS_PER_CLIENT: String(Math.max(REQUESTED * 2, 100)),
    // The order waits for our cancelOrder, not for the saga deadline.
    SAGA_DEADLINE_MS: '1800000',
  });
  const gatewayPid = system.pidOf('gateway-1');
  const gatewayUrl = system.gatewayUrl;
  const wsUrl = gatewayUrl.replace(/^http/, 'ws');
  const token = await system.token(CUSTOMER);
  const { orderId } = await placeBenchOrder(gatewayUrl, token, 'tok_timeout', 2);
  // tok_timeout: the provider never answers, so the order rests at INVENTORY_RESERVED until cancelled.
  const state = await eventually(
    `order ${orderId} to reach INVENTORY_RESERVED`,
    async () => {
      const s = await orderState(gatewayUrl, token, orderId);
      return s && s.status !== 'PENDING' ? s : undefined;
    },
    60_000,
    200,
  );
  if (state.status !== 'INVENTORY_RESERVED') throw new Error(`order ${orderId} is ${state.status}, expected INVENTORY_RESERVED`);

  // The client processes. Registered after the system, so they are stopped before it.
  onCleanup(async () => {
    await Promise.all(forked.map(stopWorker));
  });
  const workers = await Promise.all(Array.from({ length: WORKERS }, (_, k) => startWorker(k)));
  // Receipts are compared across processes: check each worker's clock against ours (its reading must
  // fall between our two around an IPC round trip); keep the tightest of a few.
  const clocks: { offsetMs: number; rttMs: number }[] = [];
  for (const w of workers) {
    let best = { offsetMs: NaN, rttMs: Infinity };
    for (let k = 0; k < 5; k++) {
      const t1 = now();
      const { now: tw } = await w.request('ping', {});
      const t2 = now();
      if (t2 - t1 < best.rttMs) best = { offsetMs: tw - (t1 + t2) / 2, rttMs: t2 - t1 };
    }
    clocks.push(best);
  }
  const clockBoundMs = Math.max(...clocks.map((c) => Math.abs(c.offsetMs) + c.rttMs / 2));
  const clocksDisagree = clocks.some((c) => Math.abs(c.offsetMs) > c.rttMs / 2 + 0.5);
  console.log(`${WORKERS} worker${WORKERS === 1 ? '' : 's'} started (pids ${workers.map((w) => w.pid).join(', ')}); clocks within ${fmt(clockBoundMs, 3)} ms of this process's; gateway pid ${gatewayPid}`);

  // One socket per client in its worker (plus what the process already holds), and all of them in the gateway.
  const workerSoft = Math.min(...workers.map((w) => w.fdLimit.soft));
  const workerHard = Math.min(...workers.map((w) => w.fdLimit.hard));
  const gatewayLimit = procFdLimit(gatewayPid);
  let target = REQUESTED;
  const perWorker = Math.ceil(REQUESTED / WORKERS);
  if (Number.isFinite(workerSoft) && workerSoft < perWorker + 500) {
    target = Math.max(1, Math.min(target, WORKERS * (workerSoft - 500)));
    notes.push(
      `ulimit -n is ${workerSoft} (hard ${workerHard}) in the worker processes, too low for ${perWorker} sockets each: measured ${target} clients. Raise it (ulimit -n ${perWorker + 1000}; npm run bench raises the soft limit to the hard one) or use more --workers to measure ${REQUESTED}.`,
    );
    console.warn(notes.at(-1));
  }
  if (Number.isFinite(gatewayLimit.soft) && gatewayLimit.soft < target + 500) {
    target = Math.max(1, gatewayLimit.soft - 500);
    notes.push(
      `The gateway's open-files limit is ${gatewayLimit.soft} (hard ${gatewayLimit.hard}), too low for ${REQUESTED} sockets: measured ${target} clients. Raise it (ulimit -n ${REQUESTED + 1000} before starting the benchmark; npm run bench raises the soft limit to the hard one) to measure ${REQUESTED}.`,
    );
    console.warn(notes.at(-1));
  }
  const assigned = shares(0, target, WORKERS);
  console.log(`${fmtInt(target)} clients: ${assigned.map(fmtInt).join(' / ')} per worker (ulimit -n ${workerSoft} in the workers, ${gatewayLimit.soft} in the gateway, ${softLimit} here)`);
  await Promise.all(
    workers.map((w) =>
      w.request('init', { wsUrl, token, orderId, subscription: SUBSCRIPTION, checkProductNames: SELECTION === 'full', capacity: assigned[w.index]! }),
    ),
  );
  await sleep(1_000);
  console.log(`order ${orderId} is ${state.status} (sequence ${state.sequence})`);

  // The coordinator's view of the connect phase: each worker's figures from its last answer.
  const progress = workers.map(() => ({ opened: 0, ready: 0, failed: 0, errors: [] as [string, number][] }));
  const total = (key: 'opened' | 'ready' | 'failed') => progress.reduce((sum, p) => sum + p[key], 0);
  const errorKeys = () => [...mergeErrors(progress.map((p) => p.errors)).keys()];
  /** Opens clients [from, to) across the workers; resolves with how many did not subscribe, or undefined when a worker timed out. */
  const openBatch = async (from: number, to: number): Promise<number | undefined> => {
    const counts = shares(from, to, WORKERS);
    const results = await Promise.all(
      workers.map(async (w) => {
        const count = counts[w.index]!;
        if (count === 0) return { bad: 0, timedOut: false };
        const r = await w.request('open', { count, timeoutMs: BATCH_TIMEOUT_MS }, BATCH_TIMEOUT_MS + 10_000);
        progress[w.index] = { opened: r.opened, ready: r.ready, failed: r.failed, errors: r.errors };
        return r;
      }),
    );
    return results.some((r) => r.timedOut) ? undefined : results.reduce((sum, r) => sum + r.bad, 0);
  };

  // Client 0 first: it starts the one shared upstream subscription, so the "before" figure
  // already holds everything that is not per subscriber.
  if ((await openBatch(0, 1)) !== 0) throw new Error(`the first subscriber did not get an event: ${errorKeys().join(' | ') || 'timeout'}`);
  // Memory is read after a full GC, forced through the inspector (SIGUSR1), so it counts what
  // subscribers retain; without it, the figures include garbage not yet collected.
  let inspector: InspectorSession | undefined;
  try {
    inspector = await openInspector(system.processes.get('gateway-1')!);
    onCleanup(async () => inspector?.close());
  } catch (err) {
    notes.push(`Could not open the gateway's inspector to force a GC (${err instanceof Error ? err.message : String(err)}): memory figures include garbage not yet collected, an upper bound.`);
    console.warn(notes.at(-1));
  }
  const memory = async () => {
    const noGc = { rss: rssBytes(gatewayPid), heapUsed: await metricValue(gatewayUrl, 'nodejs_heap_size_used_bytes') };
    if (!inspector) return { ...noGc, noGc };
    await inspector.collectGarbage();
    await sleep(500);
    const usage = await inspector.memoryUsage();
    return { rss: rssBytes(gatewayPid), heapUsed: usage.heapUsed, noGc };
  };
  await sleep(2_000);
  const before = await memory();
  const loadAvgBefore = loadAverage();

  const connectStart = performance.now();
  let stopReason: string | undefined;
  for (let next = 1; next < target; ) {
    if (performance.now() - connectStart > CONNECT_PHASE_MS) {
      stopReason = `connecting took longer than ${CONNECT_PHASE_MS / 1000} s`;
      break;
    }
    const end = Math.min(target, next + BATCH);
    const size = end - next;
    const bad = await openBatch(next, end);
    next = end;
    if (Math.floor((next - 1) / 2_000) !== Math.floor((next - 1 - size) / 2_000) || next === target) {
      console.log(`  ${fmtInt(total('ready'))} subscribed, ${total('failed')} failed, ${((performance.now() - connectStart) / 1000).toFixed(1)} s`);
    }
    // A few refusals are reported; a batch mostly refused means a limit was reached, so stop there.
    if (bad === undefined || bad > size * 0.1) {
      stopReason = bad !== undefined ? `${bad} of a batch of ${size} failed: ${errorKeys().slice(0, 3).join(' | ')}` : `a batch did not subscribe within ${BATCH_TIMEOUT_MS / 1000} s`;
      break;
    }
  }
  const connectSeconds = (performance.now() - connectStart) / 1000;
  if (stopReason) {
    notes.push(`Stopped opening clients at ${total('opened')} (${total('ready')} subscribed): ${stopReason}.`);
    console.warn(notes.at(-1));
  }

  await sleep(3_000);
  const after = await memory();
  const activeSubscriptions = await metricValue(gatewayUrl, 'gateway_active_subscriptions');
  const upstreamSubscriptions = await metricValue(gatewayUrl, 'gateway_active_upstream_subscriptions');
  const wsConnections = await metricValue(gatewayUrl, 'gateway_ws_connections');
  const subscribedBefore = total('ready');
  const added = subscribedBefore - 1;
  const rssPerSubscriber = (after.rss - before.rss) / added;
  const heapPerSubscriber = (after.heapUsed - before.heapUsed) / added;
  const rssPerSubscriberNoGc = (after.noGc.rss - before.noGc.rss) / added;
  console.log(
    `${fmtInt(subscribedBefore)} subscribed in ${connectSeconds.toFixed(1)} s; gateway RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, ${fmt(rssPerSubscriber / 1024)} KiB per subscriber; gateway reports ${activeSubscriptions} subscriptions, ${upstreamSubscriptions} upstream, ${wsConnections} WebSockets`,
  );

  // The moment the orders subgraph publishes the change: its Redis pub/sub channel (architecture.md,
  // step 8), which the orders subscription resolver listens to. Heard here at about the same time.
  let publishedAt = 0;
  const listener = new Redis(system.redisUrl, { maxRetriesPerRequest: 1 });
  listener.on('error', () => undefined);
  onCleanup(async () => {
    listener.disconnect();
  });
  if ((await withTimeout(listener.subscribe(orderChannels.orderStatus(orderId)), 10_000)) === undefined) throw new Error('could not subscribe to the Redis order-status channel within 10 s');
  listener.on('message', (_channel: string, message: string) => {
    if (!publishedAt && message.includes('CANCELLED')) publishedAt = now();
  });

  // The status change. Every worker starts counting (and its CPU clock) before the mutation is sent.
  await Promise.all(workers.map((w) => w.request('arm', {})));
  // The gateway's own measure of its write loop (one observation per event and group of subscribers).
  const fanOut0 = { sum: await metricValue(gatewayUrl, 'gateway_fanout_seconds_sum'), count: await metricValue(gatewayUrl, 'gateway_fanout_seconds_count') };
  const gatewayCpu0 = cpuSeconds(gatewayPid);
  const selfCpu0 = process.cpuUsage();
  const t0 = now();
  const cancel = await withTimeout(graphql<{ cancelOrder: { status: string } }>(gatewayUrl, CANCEL_ORDER, { id: orderId }, { token }), MUTATION_TIMEOUT_MS);
  const mutationMs = now() - t0;
  if (!cancel) throw new Error(`cancelOrder did not answer within ${MUTATION_TIMEOUT_MS / 1000} s`);
  if (!cancel.data?.cancelOrder) throw new Error(`cancelOrder failed: ${JSON.stringify(cancel.errors)}`);
  const deliveredMessages = await withTimeout(Promise.all(workers.map((w) => w.delivered)), DELIVERY_TIMEOUT_MS);
  const waitedMs = now() - t0;
  const gatewayCpuMs = (cpuSeconds(gatewayPid) - gatewayCpu0) * 1000;
  const fanOutLoops = (await metricValue(gatewayUrl, 'gateway_fanout_seconds_count')) - fanOut0.count;
  const fanOutLoopMs = ((await metricValue(gatewayUrl, 'gateway_fanout_seconds_sum')) - fanOut0.sum) * 1000;
  const selfCpu = process.cpuUsage(selfCpu0);
  const coordinatorCpuMs = (selfCpu.user + selfCpu.system) / 1000;
  const loadAvgAfter = loadAverage();
  listener.disconnect();
  const dead = workers.map((w) => w.exitReason()).filter(Boolean);
  if (dead.length) throw new Error(dead.join('; '));

  // Every worker's receipt times, one message each.
  const collected: Collected[] = await Promise.all(workers.map((w) => w.request('collect', {})));
  const sum = (key: 'ready' | 'failed' | 'delivered' | 'incomplete') => collected.reduce((s, c) => s + c[key], 0);
  const ready = sum('ready');
  const failed = sum('failed');
  const delivered = sum('delivered');
  const incomplete = sum('incomplete');
  const errors = mergeErrors(collected.map((c) => c.errors));
  const times: number[] = [];
  const sincePublish: number[] = [];
  let first = Infinity;
  let last = 0;
  const workerFigures = collected.map((c, k) => {
    const own: number[] = [];
    let wFirst = Infinity;
    let wLast = 0;
    for (let i = 0; i < c.opened; i++) {
      const at = c.deliveredAt[i]!;
      if (!c.readyAt[i] || !at) continue;
      times.push(at - t0);
      own.push(at - t0);
      if (publishedAt) sincePublish.push(at - publishedAt);
      wFirst = Math.min(wFirst, at);
      wLast = Math.max(wLast, at);
    }
    first = Math.min(first, wFirst);
    last = Math.max(last, wLast);
    const dw = distribution(own);
    return {
      pid: workers[k]!.pid,
      opened: c.opened,
      subscribed: c.ready,
      delivered: c.delivered,
      deliveryMs: { p50: dw.p50, p99: dw.p99, min: dw.min, max: dw.max },
      cpuToLastReceiptMs: c.cpuToLastReceiptMs,
      cpuToCollectMs: c.cpuToCollectMs,
      deliveredMessageAfterMs: deliveredMessages?.[k] ? deliveredMessages[k]!.at - t0 : null,
      clockOffsetMs: clocks[k]!.offsetMs,
      clockRttMs: clocks[k]!.rttMs,
      fdLimit: workers[k]!.fdLimit,
    };
  });
  const d = distribution(times);
  const dp = distribution(sincePublish);
  if (!publishedAt) notes.push('The CANCELLED publish on the order’s Redis channel (order-status:{<id>}) was not heard, so there are no figures from the publish.');
  const spreadMs = times.length ? last - first : NaN;
  const missing = ready - delivered;
  // A worker whose clients did not all receive has no CPU figure to its last receipt: show its CPU to the collection instead.
  const clientCpuPerWorker = collected.map((c) => (Number.isFinite(c.cpuToLastReceiptMs) ? c.cpuToLastReceiptMs : c.cpuToCollectMs));
  const clientCpuMs = clientCpuPerWorker.reduce((s, v) => s + v, 0);
  console.log(`CANCELLED reached ${fmtInt(delivered)} of ${fmtInt(ready)} subscribers; cancelOrder answered in ${fmt(mutationMs)} ms`);
  if (missing > 0) notes.push(`${missing} subscribers did not receive the CANCELLED event within ${(waitedMs / 1000).toFixed(0)} s.`);
  if (incomplete > 0) notes.push(`${incomplete} CANCELLED events lacked product names from inventory.`);
  if (errors.size) notes.push(`Client errors: ${[...errors].slice(0, 5).map(([m, n]) => `${n}× ${m}`).join(' | ')}`);
  if (clocksDisagree) notes.push(`A worker's clock disagreed with the coordinator's by more than an IPC round trip (offsets ${clocks.map((c) => `${fmt(c.offsetMs, 3)} ± ${fmt(c.rttMs / 2, 3)}`).join(', ')} ms): cross-process figures are off by up to that much.`);

  // Leave, and check the gateway lets go of everything (about 1,000 clients per 50 ms over all the workers, as before).
  await Promise.all(workers.map((w) => w.request('leave', { chunk: Math.ceil(1_000 / WORKERS), pauseMs: 50 }, 60_000)));
  let leftover: number;
  try {
    leftover = await eventually(
      'the gateway to drop every subscription',
      async () => {
        const [subs, upstream] = await Promise.all([metricValue(gatewayUrl, 'gateway_active_subscriptions'), metricValue(gatewayUrl, 'gateway_active_upstream_subscriptions')]);
        return subs === 0 && upstream === 0 ? 0 : undefined;
      },
      20_000,
      500,
    );
  } catch {
    leftover = await metricValue(gatewayUrl, 'gateway_active_subscriptions');
    notes.push(`After every client left, the gateway still reported ${leftover} active subscriptions (and ${await metricValue(gatewayUrl, 'gateway_active_upstream_subscriptions')} upstream) after 20 s.`);
  }

  const figures: ResultTable = {
    title: `Fan-out of one status change to ${fmtInt(ready)} graphql-ws subscribers on one gateway process`,
    columns: ['figure', 'value'],
    rows: [
      ['subscribers (requested)', `${fmtInt(ready)} (${fmtInt(REQUESTED)})`],
      ['subscription selection', SELECTION === 'full' ? 'orders fields + order.lines.product.name (inventory)' : 'orders fields only'],
      ['client processes (workers; clients each)', `${WORKERS} (${collected.map((c) => fmtInt(c.ready)).join(' / ')})`],
      ['time to connect and subscribe all', `${fmt(connectSeconds, 1)} s`],
      ['upstream subscriptions held by the gateway', String(upstreamSubscriptions)],
      ['delivered', `${fmtInt(delivered)} of ${fmtInt(ready)}`],
      ['delivery time from the publish (Redis order-status channel): p50 / p90 / p99 / max', `${fmt(dp.p50)} / ${fmt(dp.p90)} / ${fmt(dp.p99)} / ${fmt(dp.max)} ms`],
      ['publish heard after cancelOrder was sent', publishedAt ? `${fmt(publishedAt - t0)} ms` : 'n/a'],
      ['delivery time p50 (from just before cancelOrder)', `${fmt(d.p50)} ms`],
      ['delivery time p90', `${fmt(d.p90)} ms`],
      ['delivery time p99', `${fmt(d.p99)} ms`],
      ['delivery time max', `${fmt(d.max)} ms`],
      ['first receipt (≈ cancel applied + published + one hop)', `${fmt(d.min)} ms`],
      ['first → last receipt (the fan-out itself)', `${fmt(spreadMs)} ms`],
      ['cancelOrder mutation answered after', `${fmt(mutationMs)} ms`],
      [
        "the gateway's write loop for the status change (gateway_fanout_seconds: first to last subscriber socket written)",
        fanOutLoops === 1 ? `${fmt(fanOutLoopMs)} ms` : `${fmt(fanOutLoopMs)} ms over ${fanOutLoops} events`,
      ],
      ['CPU used from cancelOrder to the last receipt: gateway / clients (all workers)', `${fmtInt(gatewayCpuMs)} / ${fmtInt(clientCpuMs)} ms in ${fmtInt(waitedMs)} ms`],
      ['client CPU per worker, from cancelOrder to its own last receipt', `${clientCpuPerWorker.map(fmtInt).join(' / ')} ms`],
      [`gateway RSS before → after subscribing${inspector ? ' (after a full GC)' : ''}`, `${mib(before.rss)} → ${mib(after.rss)} MiB`],
      ['gateway RSS per subscriber', `${fmt(rssPerSubscriber / 1024)} KiB`],
      ['gateway JS heap used per subscriber', `${fmt(heapPerSubscriber / 1024)} KiB`],
      ...(inspector ? [['gateway RSS per subscriber without forcing a GC', `${fmt(rssPerSubscriberNoGc / 1024)} KiB`]] : []),
      ['subscriptions left after all clients left', Number.isNaN(leftover) ? 'n/a' : String(leftover)],
    ],
  };
  const goals: GoalCheck[] = [
    { goal: '10,000 graphql-ws clients on one gateway process', measured: `${fmtInt(ready)} subscribed`, pass: ready >= 10_000 },
    {
      goal: 'fan-out p99 at most 250 ms, from the subgraph\'s publish',
      measured: `${fmt(dp.p99)} ms (p50 ${fmt(dp.p50)} ms; first → last receipt ${fmt(spreadMs)} ms)`,
      pass: publishedAt ? missing === 0 && dp.p99 <= 250 : null,
    },
    { goal: 'fan-out p99 at most 250 ms, from just before the cancelOrder mutation', measured: `${fmt(d.p99)} ms (p50 ${fmt(d.p50)} ms)`, pass: missing === 0 && d.p99 <= 250 },
    { goal: 'at most 10 KB per subscriber', measured: `${fmt(rssPerSubscriber / 1024)} KiB RSS (${fmt(heapPerSubscriber / 1024)} KiB heap)`, pass: rssPerSubscriber <= 10 * 1024 },
  ];
  notes.push(
    `One machine (${machine().nproc} cores): the ${fmtInt(ready)} clients live in ${WORKERS} worker process${WORKERS === 1 ? '' : 'es'} (${collected.map((c) => fmtInt(c.ready)).join(' / ')} clients; this coordinating process hosts none), and the workers still share the ${machine().nproc} cores with the gateway, the subgraphs, Redis and the broker: each receipt time includes its worker parsing the messages before it, one after another, while the gateway is still writing to the others.`,
    `Receipt times are absolute (performance.timeOrigin + performance.now()) in every process and gathered from the workers after the delivery; the workers' clocks agreed with the coordinator's within ${fmt(clockBoundMs, 3)} ms (checked over IPC round trips).`,
    'Delivery time is measured two ways: from the publish of the change on the orders subgraph\'s Redis pub/sub channel (heard by this process), which covers the orders subgraph pushing the event to the gateway, the gateway resolving the inventory fields and the fan-out; and from just before the cancelOrder mutation is sent, which adds the mutation and the saga applying it.',
    inspector
      ? 'Memory is the gateway\'s RSS (VmRSS from /proc) 3 s after the last subscriber joined minus 2 s after the first, divided by the subscribers in between, each read after a full GC forced through the inspector (SIGUSR1 opens it on 127.0.0.1:9229); KiB = 1024 bytes.'
      : 'Memory is the gateway\'s RSS (VmRSS from /proc) 3 s after the last subscriber joined minus 2 s after the first, divided by the subscribers in between; no GC was forced, so it is an upper bound; KiB = 1024 bytes.',
    `Load average (1 min) ${fmt(loadAvgBefore)} before subscribing and ${fmt(loadAvgAfter)} after the delivery${loadAvgBefore > machine().nproc ? ': the machine was busy with other work, so these figures are noisy' : ''}.`,
  );

  printTable(figures);
  printGoals(goals);
  for (const n of notes) console.log(`note: ${n}`);
  const file = writeResult({
    name: 'fanout',
    title: 'Subscription fan-out: one status change to N graphql-ws clients',
    date: new Date().toISOString(),
    machine: machine(),
    command: `node --conditions=@shop/source --import tsx bench/fanout.ts --clients ${REQUESTED} --batch ${BATCH} --selection ${SELECTION} --workers ${WORKERS}`,
    durationSeconds: Math.round((Date.now() - began) / 1000),
    notes,
    tables: [figures],
    goals,
    raw: {
      orderId,
      subscription: SUBSCRIPTION,
      requested: REQUESTED,
      workers: WORKERS,
      subscribed: ready,
      failed,
      delivered,
      incomplete,
      connectSeconds,
      deliveryMs: d,
      deliveryFromPublishMs: dp,
      publishAfterMutationMs: publishedAt ? publishedAt - t0 : null,
      spreadMs,
      mutationMs,
      memoryBefore: before,
      memoryAfter: after,
      gcForced: !!inspector,
      rssPerSubscriberBytes: rssPerSubscriber,
      heapPerSubscriberBytes: heapPerSubscriber,
      rssPerSubscriberNoGcBytes: rssPerSubscriberNoGc,
      gatewayFanOutLoop: { ms: fanOutLoopMs, events: fanOutLoops },
      cpuDuringDeliveryMs: { gateway: gatewayCpuMs, clients: clientCpuMs, clientsPerWorker: clientCpuPerWorker, coordinator: coordinatorCpuMs, wallMs: waitedMs },
      loadAverage: { before: loadAvgBefore, after: loadAvgAfter },
      activeSubscriptions,
      upstreamSubscriptions,
      wsConnections,
      leftoverSubscriptions: leftover,
      fdLimit: { soft: softLimit, hard: hardLimit, workers: { soft: workerSoft, hard: workerHard }, gateway: gatewayLimit },
      perWorker: workerFigures,
    },
  });
  console.log(`\nwrote ${file}`);
}

const mib = (bytes: number) => fmt(bytes / 2 ** 20, 1);

/** Resolves with the value, or undefined after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}

await runBenchmark('fan-out', main);
