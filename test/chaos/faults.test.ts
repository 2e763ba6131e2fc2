// Faults while orders flow, then invariants over everything every client was told and everything read
// back through the API, Redis and Kafka. One system (2 replicas of each subgraph, 2 gateways, the broker
// with a data directory, redis-server with AOF); the load runs through every fault; each fault is an `it`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { ALL_TOPICS } from '@shop/events';
import { OrderDriver } from './driver.js';
import { ChaosHarness, sleep, type ProductInfo } from './harness.js';
import {
  checkAcceptedOrdersFinal,
  checkConfirmedHaveReservationAndPayment,
  checkDeadLetters,
  checkHistories,
  checkNoDuplicateOrders,
  checkPlaceAnswers,
  checkStockConservation,
  checkStockNeverNegative,
  checkSubscribers,
  confirmedUnitsByProduct,
  countLostOrders,
  type InvariantResult,
  type ProductStockRecord,
  type ServerOrder,
} from './invariants.js';
import { injectPoison, poisonCatalogue, poisonProducer } from './poison.js';
import { chaosProfile } from './profile.js';
import { writeChaosSection, type ChaosSection, type SoakFigures } from './results.js';
import { runSoak } from './soak-runner.js';

const profile = chaosProfile();
const startedAt = new Date();
let h: ChaosHarness | undefined;
let driver: OrderDriver | undefined;
let producer: Producer | undefined;
let stopSampler: (() => Promise<void>) | undefined;
let stopDrops: (() => void) | undefined;
let stopChurn: (() => { opened: number }) | undefined;
let products: ProductInfo[] = [];
let initialStock = new Map<string, ProductInfo>();
let invariants: InvariantResult[] = [];
let orderFigures: ChaosSection['orders'];
let soak: SoakFigures | undefined;
let processes: ChaosSection['processes'];
let deadLetterFigures: ChaosSection['deadLetters'];

const harness = () => {
  if (!h) throw new Error('the system did not start');
  return h;
};

async function poison(label: string): Promise<void> {
  const hh = harness();
  producer ??= await poisonProducer(hh.kafka);
  for (const topic of ALL_TOPICS) {
    hh.poison.push(...(await injectPoison(producer, topic, poisonCatalogue(topic, `${hh.runId}-${label}`, 'basic'))));
  }
}

/** Lets orders flow, and checks some are still being accepted (the system keeps working between faults). */
async function flow(ms: number, expectAccepted = true): Promise<void> {
  const hh = harness();
  const before = hh.placed.filter((p) => p.orderId).length;
  await sleep(ms);
  const after = hh.placed.filter((p) => p.orderId).length;
  const crashed = hh.crashed();
  if (crashed.length) {
    hh.notes.push(...crashed.map((c) => `CRASH: ${c}`));
    hh.log(`CRASHED: ${crashed.join('\n')}`);
    // As a supervisor would: start them again so the remaining faults still run (the crash stays a failure).
    await hh.restartCrashed();
  }
  expect(crashed, 'processes that crashed (not killed by the test)').toEqual([]);
  if (expectAccepted) expect(after, 'orders accepted while flowing').toBeGreaterThan(before);
}

beforeAll(async () => {
  h = await ChaosHarness.start({ profile });
  const customers = await Promise.all(Array.from({ length: profile.customers }, (_, i) => h!.customer(`chaos${i}`)));
  const stock = await h.readStock(10_000);
  if (!stock || stock.size < 3) throw new Error('the catalog is empty or unreadable');
  initialStock = stock;
  const byStock = [...stock.values()].sort((a, b) => b.stock.available - a.stock.available);
  products = byStock.slice(0, 6);
  const scarce = byStock.at(-1)!.stock.available < 1000 ? byStock.at(-1) : undefined;
  // Enough stock for the run, added as restocks (counted by the conservation check).
  const need = Math.ceil((profile.orderRate * 240 * 2.5) / products.length);
  for (const p of products) if (p.stock.available < need) await h.restock(p.id, need - p.stock.available);
  driver = new OrderDriver(h, { rate: profile.orderRate, customers, products, ...(scarce ? { scarce } : {}), mix: true, secondSubscriberEvery: 4, maxInflight: 400 });
  stopSampler = h.startStockSampler([...products.map((p) => p.id), ...(scarce ? [scarce.id] : [])]);
  driver.start();
  stopDrops = h.startForcedDrops(profile.dropEveryMs);
  // Clients that subscribe and leave again all the time, through both gateways, while subgraphs die.
  // (An admin may watch any order: it follows the 20 latest.)
  const hh = h;
  stopChurn = hh.startChurn({ name: `chaos-admin-${hh.runId}`, token: hh.adminToken }, () =>
    hh.placed
      .slice(-20)
      .filter((p) => p.orderId)
      .map((p) => p.orderId!),
  );
}, 240_000);

afterAll(async () => {
  stopDrops?.();
  stopChurn?.();
  await driver?.stop().catch(() => undefined);
  await stopSampler?.().catch(() => undefined);
  await producer?.disconnect().catch(() => undefined);
  if (h) {
    const finished = new Date();
    const subs = h.subscribers.map((s) => s.record);
    writeChaosSection('faults', {
      profile: profile.name,
      startedAt: startedAt.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: (finished.getTime() - startedAt.getTime()) / 1000,
      faults: h.faults,
      ...(orderFigures ? { orders: orderFigures } : {}),
      subscriptions: {
        subscribers: subs.length,
        resumes: subs.reduce((n, s) => n + s.segments.length - 1, 0),
        events: subs.reduce((n, s) => n + s.segments.reduce((m, seg) => m + seg.events.length, 0), 0),
        forcedDrops: h.pool.forcedDrops,
      },
      ...(deadLetterFigures ? { deadLetters: deadLetterFigures } : {}),
      invariants,
      ...(soak ? { soak } : {}),
      ...(processes ? { processes } : {}),
      notes: h.notes.slice(0, 50),
    });
  }
  await h?.stop();
}, 120_000);

describe(`faults while orders flow (profile ${profile.name})`, () => {
  it('orders flow through both gateways before any fault', async () => {
    await poison('start');
    await flow(profile.calmMs * 2);
    const accepted = harness().placed.filter((p) => p.orderId);
    expect(new Set(accepted.flatMap((p) => p.attempts.filter((a) => a.outcome === 'ok').map((a) => a.gateway))).size).toBe(2);
  });

  const replicaRounds = profile.killOneAtATime
    ? ['orders-1', 'orders-2', 'inventory-1', 'inventory-2', 'notifications-1', 'notifications-2'].map((n) => [n])
    : [
        ['orders-1', 'inventory-1', 'notifications-1'],
        ['orders-2', 'inventory-2', 'notifications-2'],
      ];
  for (const round of replicaRounds) {
    it(`SIGKILL ${round.join(' + ')} mid-saga, then restart`, async () => {
      // Overlapping (short profile): the next fault starts while these are still rejoining their groups.
      const rec = await harness().fault('SIGKILL + restart', round.join(', '), () => harness().killAndRestart(round, 1_000, !profile.overlapFaults));
      expect(rec.ok).toBe(true);
      await flow(profile.calmMs, !profile.overlapFaults);
    });
  }

  it('SIGKILL the broker, restart it on the same port and data directory', async () => {
    const rec = await harness().fault('SIGKILL + restart', 'broker', () => harness().killBroker(2_000));
    expect(rec.ok).toBe(true);
    await poison('after-broker-restart');
    await flow(profile.calmMs * (profile.overlapFaults ? 1 : 2), !profile.overlapFaults);
  });

  const expectRedisKept = (detail: string | undefined) => {
    const m = /keys before (\d+), after (\d+)/.exec(detail ?? '');
    expect(m, detail).toBeTruthy();
    // Keys written while it was down cannot exist; nothing written before may be missing (a few expire).
    expect(Number(m![2])).toBeGreaterThanOrEqual(Number(m![1]) * 0.95);
  };
  const freezeMs = profile.sessionTimeoutMs + 3_000;

  // A crash is not a restart: no shutdown, and with appendfsync everysec (as `npm start` runs it) whatever
  // Redis had not written to its AOF yet is gone, while pub/sub drops whatever is published meanwhile.
  it('crash redis-server (SIGKILL, AOF with appendfsync everysec), restart it on the same data directory', async () => {
    const rec = await harness().fault('crash (SIGKILL, AOF everysec)', 'redis', () => harness().crashRedis(500));
    expect(rec.ok).toBe(true);
    expectRedisKept(rec.detail);
    await flow(profile.calmMs * (profile.overlapFaults ? 1 : 2));
  });

  if (profile.overlapFaults) {
    it(`stop inventory (both replicas) ${freezeMs} ms, past the consumer session timeout, while redis-server restarts and orders-2 is slow`, async () => {
      const hh = harness();
      const frozen = hh.fault('SIGSTOP > session timeout', 'inventory-1, inventory-2', () => hh.freeze(['inventory-1', 'inventory-2'], freezeMs));
      await sleep(4_000);
      const redis = await hh.fault('restart (SIGTERM, AOF)', 'redis', () => hh.restartRedis()).catch((err: unknown) => ({ ok: false, detail: String(err) }));
      await sleep(3_000);
      const slow = await hh
        .fault('slow (SIGSTOP/SIGCONT bursts)', 'orders-2', () => hh.slow(['orders-2'], profile.slowCycles, profile.slowStopMs, profile.slowRunMs))
        .catch((err: unknown) => ({ ok: false, detail: String(err) }));
      const freeze = await frozen;
      expect([freeze.ok, redis.ok, slow.ok]).toEqual([true, true, true]);
      expectRedisKept(redis.detail);
      await hh.waitAllReady();
      await flow(profile.calmMs);
    });
  } else {
    it('restart redis-server (the AOF keeps the data)', async () => {
      const rec = await harness().fault('restart (SIGTERM, AOF)', 'redis', () => harness().restartRedis());
      expect(rec.ok).toBe(true);
      expectRedisKept(rec.detail);
      await flow(profile.calmMs * 2);
    });

    it('stop inventory (both replicas) for longer than a consumer session timeout, then resume', async () => {
      const rec = await harness().fault('SIGSTOP > session timeout', 'inventory-1, inventory-2', () => harness().freeze(['inventory-1', 'inventory-2'], freezeMs));
      expect(rec.ok).toBe(true);
      await flow(profile.calmMs * 2);
    });

    it('a slow subgraph (SIGSTOP/SIGCONT bursts on orders-2 and inventory-1)', async () => {
      const rec = await harness().fault('slow (SIGSTOP/SIGCONT bursts)', 'orders-2, inventory-1', () =>
        harness().slow(['orders-2', 'inventory-1'], profile.slowCycles, profile.slowStopMs, profile.slowRunMs),
      );
      expect(rec.ok).toBe(true);
      await flow(profile.calmMs);
    });
  }

  it('afterwards: no order lost, every accepted order final, and every invariant holds', async () => {
    const hh = harness();
    stopDrops?.();
    const churned = stopChurn?.();
    if (churned) hh.log(`subscription churn: ${churned.opened} short-lived subscriptions`);
    await driver!.stop();
    const ids = [...new Set(hh.placed.flatMap((p) => [p.orderId, p.refusedWith ? undefined : p.expectedOrderId]).filter((x): x is string => !!x))];
    const accepted = hh.placed.filter((p) => p.orderId).map((p) => p.orderId!);
    hh.log(`load stopped: ${hh.placed.length} placed, ${accepted.length} accepted; draining (up to ${profile.drainMs} ms)`);
    const stillOpen = await hh.drain(accepted, profile.drainMs);
    hh.log(`drained: ${stillOpen.size} orders still not final`);
    // Subscribers get the last changes shortly after the orders are final.
    const subsBy = Date.now() + 15_000;
    while (Date.now() < subsBy && hh.subscribers.some((s) => !s.isDone)) await sleep(250);
    for (const s of hh.subscribers) if (!s.isDone) s.stop('timeout');
    await stopSampler!();

    const server = await hh.readOrders(ids);
    const serverOrders = [...server.values()].filter((o): o is ServerOrder => !!o);
    const listed = await hh.listCustomerOrders();
    const finalStock = (await hh.readStock(10_000)) ?? new Map<string, ProductInfo>();
    const used = new Set(hh.placed.flatMap((p) => p.lines.map((l) => l.productId)));
    const stockRecords: ProductStockRecord[] = [...used]
      .filter((id) => initialStock.has(id) && !hh.uncertainRestocks.has(id))
      .map((id) => ({ productId: id, initial: initialStock.get(id)!.stock, restocked: hh.restocked.get(id) ?? 0, final: finalStock.get(id)?.stock ?? { available: -1, reserved: -1, sold: -1 } }));
    const linesOf = new Map(hh.placed.filter((p) => p.orderId).map((p) => [p.orderId!, p.lines]));
    const redisCheck = await hh.redisOrderViolations(serverOrders);
    const letters = await hh.readAllDeadLetters();
    hh.log(`read back ${serverOrders.length} orders, ${listed.length} listed, ${letters.length} dead letters`);
    deadLetterFigures = { injected: hh.poison.length, found: letters.length };

    invariants = [
      checkAcceptedOrdersFinal(hh.placed, server),
      checkHistories(serverOrders),
      checkConfirmedHaveReservationAndPayment(serverOrders),
      checkNoDuplicateOrders(hh.placed, listed),
      checkPlaceAnswers(hh.placed, server),
      checkStockConservation(stockRecords, { atRest: stillOpen.size === 0, confirmedUnits: confirmedUnitsByProduct(serverOrders, (id) => linesOf.get(id)) }),
      checkStockNeverNegative(hh.stockSamples),
      checkSubscribers(
        hh.subscribers.map((s) => s.record),
        server,
      ),
      {
        name: 'the orders read model in Redis agrees with the API',
        passed: redisCheck.violations.length === 0,
        checked: redisCheck.checked,
        violations: redisCheck.violations,
      },
      checkDeadLetters(hh.poison, letters, ALL_TOPICS),
      (() => {
        const lines = hh.crashLines();
        return { name: 'no process crashed or logged an unhandled rejection', passed: lines.length === 0, checked: hh.system.processes.size, violations: lines };
      })(),
    ];
    const finals: Record<string, number> = {};
    for (const o of serverOrders) if (accepted.includes(o.id)) finals[o.status] = (finals[o.status] ?? 0) + 1;
    orderFigures = {
      placed: hh.placed.length,
      accepted: accepted.length,
      refused: hh.placed.filter((p) => p.refusedWith).length,
      unanswered: hh.placed.filter((p) => !p.orderId && !p.refusedWith).length,
      lost: countLostOrders(hh.placed, server),
      final: finals,
    };
    const gaveUp = hh.subscribers.filter((s) => s.gaveUp);
    if (gaveUp.length) hh.notes.push(`${gaveUp.length} subscribers gave up, e.g. ${gaveUp[0]!.gaveUp}`);
    processes = (await hh.processHealth()).map(({ name, alive, healthy }) => ({ name, alive, healthy }));

    const failed = invariants.filter((i) => !i.passed);
    for (const i of invariants) hh.log(`${i.passed ? 'PASS' : 'FAIL'} ${i.name} (${i.checked} checked${i.passed ? '' : `, ${i.violations.length} violations`})`);
    const report = failed.map((i) => `${i.name}:\n  ${i.violations.slice(0, 10).join('\n  ')}`).join('\n');
    if (failed.length) console.error(`chaos invariants failed:\n${report}`);
    expect(orderFigures.lost, 'orders lost').toBe(0);
    expect(orderFigures.accepted, 'orders accepted').toBeGreaterThan(0);
    expect(failed.map((i) => i.name), report).toEqual([]);
    expect(processes.filter((p) => !p.alive || !p.healthy).map((p) => p.name)).toEqual([]);
  });

  it(`soak on the recovered system: ${profile.soak.rate} orders/s for ${profile.soak.seconds} s through both gateways`, async () => {
    // Two customers per order/s, so no customer's rate limit or subscription cap is what limits the soak.
    soak = await runSoak(harness(), { rate: profile.soak.rate, seconds: profile.soak.seconds, customers: Math.max(8, profile.soak.rate * 2), settleMs: 30_000, log: (l) => harness().log(l) });
    harness().log(`soak: ${soak.confirmed}/${soak.accepted} confirmed, ${soak.throughputPerSecond.toFixed(2)}/s, p50 ${soak.latencyMs.p50} ms, p99 ${soak.latencyMs.p99} ms`);
    expect(soak.accepted).toBeGreaterThan(0);
    expect(soak.confirmed / Math.max(1, soak.accepted)).toBeGreaterThanOrEqual(0.99);
    expect(soak.rssBound.violations).toEqual([]);
  });
});
