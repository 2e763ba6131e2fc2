/**
 * Subscription fan-out benchmark (issue 4): N graphql-ws clients (default 10,000) on ONE gateway
 * process, all subscribed to `orderStatusChanged` of one order with cross-subgraph fields, then one
 * status change (cancelOrder of an order placed with tok_timeout, which otherwise stays
 * INVENTORY_RESERVED). Measures, per client, the time from just before the mutation is sent to the
 * CANCELLED event's arrival (p50/p99), the spread from the first client's receipt to the last, and
 * the gateway's memory per subscriber (RSS from /proc/<pid>/status after connecting minus before,
 * divided by the subscribers added).
 *
 *   node --import tsx bench/fanout.ts [--clients 10000] [--batch 250] [--selection full|own]
 *
 * Writes bench/results/fanout.json. Every client lives in this one process (one socket each, so
 * `ulimit -n` must exceed N; `npm run bench` raises the soft limit to the hard one), which shares
 * the machine's cores with the gateway: receipt times include this process working through 10,000
 * messages one after the other.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { CANCEL_ORDER } from '../test/support/shop.js';
import { eventually, graphql } from '../test/support/clients.js';
import { numberArg, stringArg } from './lib/args.js';
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
const BATCH_TIMEOUT_MS = 30_000;
const CONNECT_PHASE_MS = 300_000;
const DELIVERY_TIMEOUT_MS = 30_000;
const CUSTOMER = 'bench-fanout';

const FIELDS = {
  /** Fields from orders plus the order's lines with product names from inventory: the federated case. */
  full: 'orderId sequence status previous at order { id status lines { quantity product { id name } } }',
  /** Only the fields the orders subgraph publishes (no entity fetch per event). */
  own: 'orderId sequence status previous at',
} as const;
if (SELECTION !== 'full' && SELECTION !== 'own') throw new Error('--selection is full or own');
const SUBSCRIPTION = `subscription Watch($orderId: ID!) { orderStatusChanged(orderId: $orderId) { ${FIELDS[SELECTION]} } }`;

interface StatusEvent {
  orderId: string;
  sequence: number;
  status: string;
  order?: { lines: { product: { name: string } | null }[] } | null;
}

function fdLimit(hard = false): number {
  try {
    const out = execFileSync('sh', ['-c', hard ? 'ulimit -Hn' : 'ulimit -n'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Infinity : Number(out);
  } catch {
    return NaN;
  }
}

function describe(err: unknown): string {
  if (Array.isArray(err)) return err.map((e: { message?: string }) => e?.message ?? String(e)).join('; ');
  if (err && typeof err === 'object' && 'code' in err) {
    const e = err as { code: unknown; reason?: unknown };
    return `closed ${String(e.code)}${e.reason ? ` ${String(e.reason)}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

async function main() {
  const began = Date.now();
  const notes: string[] = [];
  const softLimit = fdLimit();
  const hardLimit = fdLimit(true);
  let target = REQUESTED;
  // One socket per client here, plus what the process already holds.
  if (Number.isFinite(softLimit) && softLimit < REQUESTED + 500) {
    target = Math.max(1, softLimit - 500);
    notes.push(
      `ulimit -n is ${softLimit} (hard ${hardLimit}) in this process, too low for ${REQUESTED} sockets: measured ${target} clients. Raise it (ulimit -n ${REQUESTED + 1000}; npm run bench raises the soft limit to the hard one) to measure ${REQUESTED}.`,
    );
    console.warn(notes.at(-1));
  }
  console.log(`fan-out benchmark: ${fmtInt(target)} graphql-ws clients on one gateway, batches of ${BATCH}, selection "${SELECTION}" (ulimit -n ${softLimit}, hard ${hardLimit})`);

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
  await sleep(1_000);
  console.log(`order ${orderId} is ${state.status} (sequence ${state.sequence}); gateway pid ${gatewayPid}`);

  const clients: Client[] = new Array(target);
  const readyAt = new Float64Array(target); // when the first (replayed) event arrived: the subscription is live
  const deliveredAt = new Float64Array(target); // when the CANCELLED event arrived
  let opened = 0;
  let ready = 0;
  let failed = 0;
  let delivered = 0;
  let incomplete = 0;
  let disposing = false;
  const errors = new Map<string, number>();
  let onDelivered: (() => void) | undefined;
  let t0 = 0;

  onCleanup(async () => {
    disposing = true;
    for (let i = 0; i < opened; i++) void clients[i]?.dispose();
  });

  const open = (i: number) =>
    new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        resolve(ok);
      };
      const fail = (err: unknown) => {
        if (disposing) return;
        if (!settled || !deliveredAt[i]) {
          const key = describe(err).slice(0, 200);
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
        if (!settled) failed++;
        settle(false);
      };
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: true,
        // Keep the socket when the server completes the subscription after the final status, so
        // 10,000 closing handshakes do not compete with the receipts still being measured.
        lazyCloseTimeout: 120_000,
      });
      clients[i] = client;
      opened++;
      client.subscribe<{ orderStatusChanged: StatusEvent }>(
        { query: SUBSCRIPTION, variables: { orderId } },
        {
          next: (value) => {
            const event = value.data?.orderStatusChanged;
            if (!event) return fail(value.errors ?? 'an event without data');
            if (!readyAt[i]) {
              readyAt[i] = performance.now();
              ready++;
              settle(true);
            }
            if (event.status === 'CANCELLED' && t0 && !deliveredAt[i]) {
              deliveredAt[i] = performance.now();
              if (SELECTION === 'full' && !event.order?.lines.every((l) => l.product?.name)) incomplete++;
              if (++delivered === ready) onDelivered?.();
            }
          },
          error: fail,
          complete: () => settle(!!readyAt[i]),
        },
      );
    });

  // Client 0 first: it starts the one shared upstream subscription, so the "before" figure
  // already holds everything that is not per subscriber.
  if (!(await withTimeout(open(0), BATCH_TIMEOUT_MS))) throw new Error(`the first subscriber did not get an event: ${[...errors.keys()].join(' | ') || 'timeout'}`);
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
    const batch: Promise<boolean>[] = [];
    for (let i = next; i < end; i++) batch.push(open(i));
    const size = end - next;
    const results = await withTimeout(Promise.all(batch), BATCH_TIMEOUT_MS);
    const bad = results ? results.filter((ok) => !ok).length : size;
    next = end;
    if (Math.floor((next - 1) / 2_000) !== Math.floor((next - 1 - size) / 2_000) || next === target) {
      console.log(`  ${fmtInt(ready)} subscribed, ${failed} failed, ${((performance.now() - connectStart) / 1000).toFixed(1)} s`);
    }
    // A few refusals are reported; a batch mostly refused means a limit was reached, so stop there.
    if (!results || bad > size * 0.1) {
      stopReason = results ? `${bad} of a batch of ${size} failed: ${[...errors.keys()].slice(0, 3).join(' | ')}` : `a batch did not subscribe within ${BATCH_TIMEOUT_MS / 1000} s`;
      break;
    }
  }
  const connectSeconds = (performance.now() - connectStart) / 1000;
  if (stopReason) {
    notes.push(`Stopped opening clients at ${opened} (${ready} subscribed): ${stopReason}.`);
    console.warn(notes.at(-1));
  }

  await sleep(3_000);
  const after = await memory();
  const activeSubscriptions = await metricValue(gatewayUrl, 'gateway_active_subscriptions');
  const upstreamSubscriptions = await metricValue(gatewayUrl, 'gateway_active_upstream_subscriptions');
  const wsConnections = await metricValue(gatewayUrl, 'gateway_ws_connections');
  const added = ready - 1;
  const rssPerSubscriber = (after.rss - before.rss) / added;
  const heapPerSubscriber = (after.heapUsed - before.heapUsed) / added;
  const rssPerSubscriberNoGc = (after.noGc.rss - before.noGc.rss) / added;
  console.log(
    `${fmtInt(ready)} subscribed in ${connectSeconds.toFixed(1)} s; gateway RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, ${fmt(rssPerSubscriber / 1024)} KiB per subscriber; gateway reports ${activeSubscriptions} subscriptions, ${upstreamSubscriptions} upstream, ${wsConnections} WebSockets`,
  );

  // The moment the orders subgraph publishes the change: its Redis pub/sub channel (architecture.md,
  // step 8), which the orders subscription resolver listens to. Heard here at about the same time.
  let publishedAt = 0;
  const listener = new Redis(system.redisUrl, { maxRetriesPerRequest: 1 });
  listener.on('error', () => undefined);
  onCleanup(async () => {
    listener.disconnect();
  });
  await listener.subscribe(`order-status:${orderId}`);
  listener.on('message', (_channel: string, message: string) => {
    if (!publishedAt && message.includes('CANCELLED')) publishedAt = performance.now();
  });

  // The status change.
  const allDelivered = new Promise<void>((resolve) => {
    onDelivered = resolve;
  });
  const gatewayCpu0 = cpuSeconds(gatewayPid);
  const selfCpu0 = process.cpuUsage();
  t0 = performance.now();
  const cancel = await graphql<{ cancelOrder: { status: string } }>(gatewayUrl, CANCEL_ORDER, { id: orderId }, { token });
  const mutationMs = performance.now() - t0;
  if (!cancel.data?.cancelOrder) throw new Error(`cancelOrder failed: ${JSON.stringify(cancel.errors)}`);
  if (delivered < ready) await withTimeout(allDelivered, DELIVERY_TIMEOUT_MS);
  const waitedMs = performance.now() - t0;
  const gatewayCpuMs = (cpuSeconds(gatewayPid) - gatewayCpu0) * 1000;
  const selfCpu = process.cpuUsage(selfCpu0);
  const clientCpuMs = (selfCpu.user + selfCpu.system) / 1000;
  const loadAvgAfter = loadAverage();

  listener.disconnect();
  const times: number[] = [];
  const sincePublish: number[] = [];
  let first = Infinity;
  let last = 0;
  for (let i = 0; i < target; i++) {
    if (!readyAt[i] || !deliveredAt[i]) continue;
    times.push(deliveredAt[i]! - t0);
    if (publishedAt) sincePublish.push(deliveredAt[i]! - publishedAt);
    first = Math.min(first, deliveredAt[i]!);
    last = Math.max(last, deliveredAt[i]!);
  }
  const d = distribution(times);
  const dp = distribution(sincePublish);
  if (!publishedAt) notes.push('The CANCELLED publish on Redis channel order-status:<id> was not heard, so there are no figures from the publish.');
  const spreadMs = times.length ? last - first : NaN;
  const missing = ready - delivered;
  console.log(`CANCELLED reached ${fmtInt(delivered)} of ${fmtInt(ready)} subscribers; cancelOrder answered in ${fmt(mutationMs)} ms`);
  if (missing > 0) notes.push(`${missing} subscribers did not receive the CANCELLED event within ${(waitedMs / 1000).toFixed(0)} s.`);
  if (incomplete > 0) notes.push(`${incomplete} CANCELLED events lacked product names from inventory.`);
  if (errors.size) notes.push(`Client errors: ${[...errors].slice(0, 5).map(([m, n]) => `${n}× ${m}`).join(' | ')}`);

  // Leave, and check the gateway lets go of everything.
  disposing = true;
  for (let i = 0; i < opened; i++) {
    void clients[i]!.dispose();
    if (i % 1_000 === 999) await sleep(50);
  }
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
      ['CPU used from cancelOrder to the last receipt: gateway / clients (this process)', `${fmtInt(gatewayCpuMs)} / ${fmtInt(clientCpuMs)} ms in ${fmtInt(waitedMs)} ms`],
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
    `One machine (${machine().nproc} cores): the ${fmtInt(ready)} clients live in this one process, which shares the cores with the gateway, the subgraphs, Redis and the broker; each receipt time includes this process parsing the messages before it, one after another.`,
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
    command: `node --import tsx bench/fanout.ts --clients ${REQUESTED} --batch ${BATCH} --selection ${SELECTION}`,
    durationSeconds: Math.round((Date.now() - began) / 1000),
    notes,
    tables: [figures],
    goals,
    raw: {
      orderId,
      subscription: SUBSCRIPTION,
      requested: REQUESTED,
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
      cpuDuringDeliveryMs: { gateway: gatewayCpuMs, clients: clientCpuMs, wallMs: waitedMs },
      loadAverage: { before: loadAvgBefore, after: loadAvgAfter },
      activeSubscriptions,
      upstreamSubscriptions,
      wsConnections,
      leftoverSubscriptions: leftover,
      fdLimit: { soft: softLimit, hard: hardLimit },
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
