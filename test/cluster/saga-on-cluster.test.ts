// The saga end to end on a real Redis Cluster (3 masters, 3 replicas, all redis-server on 127.0.0.1), with
// 2 replicas of each subgraph and 2 gateways; mid-run a master is SIGKILLed and its replica takes over. Then
// the chaos tier's invariants over everything clients were told and everything read back. Figures go to
// bench/results/cluster.json and cluster.md. `CLUSTER_PROFILE=short` (in `npm test`) or `full` (on demand:
// `npm run test:cluster`, two masters killed one after the other, more load).
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@shop/service-kit';
import { READ_MODEL_PREFIXES, rebuildReadModels } from '../../scripts/rebuild-read-models.js';
import { SUBGRAPHS } from '../../scripts/lib/system.js';
import { OrderDriver } from '../chaos/driver.js';
import { ChaosHarness, sleep, type ProductInfo } from '../chaos/harness.js';
import {
  checkAcceptedOrdersFinal,
  checkConfirmedHaveReservationAndPayment,
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
} from '../chaos/invariants.js';
import { chaosProfile } from '../chaos/profile.js';
import { writeChaosSection, type ChaosSection } from '../chaos/results.js';

const full = process.env.CLUSTER_PROFILE === 'full';
const profile = {
  ...chaosProfile(full ? 'full' : 'short'),
  name: full ? ('full' as const) : ('short' as const),
  orderRate: full ? 8 : 4,
  customers: full ? 8 : 4,
  calmMs: full ? 10_000 : 5_000,
  /** Masters killed one after the other (each after the last failover is over and the old master rejoined). */
  masterKills: full ? 2 : 1,
  drainMs: full ? 120_000 : 60_000,
};
const startedAt = new Date();
let h: ChaosHarness | undefined;
let driver: OrderDriver | undefined;
let stopSampler: (() => Promise<void>) | undefined;
let initialStock = new Map<string, ProductInfo>();
let invariants: InvariantResult[] = [];
let orderFigures: ChaosSection['orders'];
let processes: ChaosSection['processes'];
const rebuildNotes: string[] = [];

/** Every read-model key on every master, with its value (not the short-lived claims and the payment answers). */
async function dumpReadModels(redis: Cluster): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const node of redis.nodes('master')) {
    for (const prefix of READ_MODEL_PREFIXES) {
      for (const key of await node.keys(`${prefix}*`)) {
        if (/^orders:\{[^}]*\}:(claim|payment)$/.test(key)) continue;
        const type = await node.type(key);
        out.set(
          key,
          type === 'hash' ? await node.hgetall(key) : type === 'list' ? await node.lrange(key, 0, -1) : type === 'zset' ? await node.zrange(key, 0, -1, 'WITHSCORES') : type === 'set' ? (await node.smembers(key)).sort() : await node.get(key),
        );
      }
    }
  }
  return out;
}

const harness = () => {
  if (!h) throw new Error('the system did not start');
  return h;
};

async function flow(ms: number): Promise<void> {
  const hh = harness();
  const before = hh.placed.filter((p) => p.orderId).length;
  await sleep(ms);
  const crashed = hh.crashed();
  expect(crashed, 'processes that crashed (not killed by the test)').toEqual([]);
  expect(hh.placed.filter((p) => p.orderId).length, 'orders accepted while flowing').toBeGreaterThan(before);
}

beforeAll(async () => {
  h = await ChaosHarness.start({ profile, redisCluster: true });
  const customers = await Promise.all(Array.from({ length: profile.customers }, (_, i) => h!.customer(`cluster${i}`)));
  const stock = await h.readStock(10_000);
  if (!stock || stock.size < 3) throw new Error('the catalog is empty or unreadable');
  initialStock = stock;
  const products = [...stock.values()].sort((a, b) => b.stock.available - a.stock.available).slice(0, 6);
  const need = Math.ceil((profile.orderRate * 120 * 2.5) / products.length);
  for (const p of products) if (p.stock.available < need) await h.restock(p.id, need - p.stock.available);
  driver = new OrderDriver(h, { rate: profile.orderRate, customers, products, mix: true, secondSubscriberEvery: 4, maxInflight: 200 });
  stopSampler = h.startStockSampler(products.map((p) => p.id));
  driver.start();
}, 240_000);

afterAll(async () => {
  await driver?.stop().catch(() => undefined);
  await stopSampler?.().catch(() => undefined);
  if (h) {
    const finished = new Date();
    const subs = h.subscribers.map((s) => s.record);
    writeChaosSection(
      'saga on a Redis Cluster',
      {
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
        invariants,
        ...(processes ? { processes } : {}),
        notes: [...rebuildNotes, `3 masters + 3 replicas (redis-server, cluster-node-timeout 2 s, AOF everysec); 2 replicas of each subgraph, 2 gateways; ${profile.orderRate} orders/s`, ...h.notes.slice(0, 50)],
      },
      'cluster',
    );
  }
  await h?.stop();
}, 120_000);

describe(`the saga on a Redis Cluster (profile ${profile.name})`, () => {
  it('orders flow through both gateways on the cluster', async () => {
    await flow(profile.calmMs);
    const accepted = harness().placed.filter((p) => p.orderId);
    expect(new Set(accepted.flatMap((p) => p.attempts.filter((a) => a.outcome === 'ok').map((a) => a.gateway))).size).toBe(2);
  });

  for (let kill = 1; kill <= profile.masterKills; kill++) {
    it(`SIGKILL a master (${kill}/${profile.masterKills}): its replica takes over, orders keep flowing`, async () => {
      const rec = await harness().fault('SIGKILL a master', 'redis cluster', () => harness().killRedisMaster());
      expect(rec.ok).toBe(true);
      await flow(profile.calmMs);
    });
  }

  it('afterwards: no order lost, every accepted order final, and every invariant holds', async () => {
    const hh = harness();
    await driver!.stop();
    const ids = [...new Set(hh.placed.flatMap((p) => [p.orderId, p.refusedWith ? undefined : p.expectedOrderId]).filter((x): x is string => !!x))];
    const accepted = hh.placed.filter((p) => p.orderId).map((p) => p.orderId!);
    hh.log(`load stopped: ${hh.placed.length} placed, ${accepted.length} accepted; draining (up to ${profile.drainMs} ms)`);
    const stillOpen = await hh.drain(accepted, profile.drainMs);
    hh.log(`drained: ${stillOpen.size} orders still not final`);
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
      { name: 'the orders read model in Redis agrees with the API', passed: redisCheck.violations.length === 0, checked: redisCheck.checked, violations: redisCheck.violations },
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
    processes = (await hh.processHealth()).map(({ name, alive, healthy }) => ({ name, alive, healthy }));

    const failed = invariants.filter((i) => !i.passed);
    for (const i of invariants) hh.log(`${i.passed ? 'PASS' : 'FAIL'} ${i.name} (${i.checked} checked${i.passed ? '' : `, ${i.violations.length} violations`})`);
    const report = failed.map((i) => `${i.name}:\n  ${i.violations.slice(0, 10).join('\n  ')}`).join('\n');
    if (failed.length) console.error(`cluster invariants failed:\n${report}`);
    expect(orderFigures.lost, 'orders lost').toBe(0);
    expect(orderFigures.accepted, 'orders accepted').toBeGreaterThan(0);
    expect(failed.map((i) => i.name), report).toEqual([]);
    expect(processes.filter((p) => !p.alive || !p.healthy).map((p) => p.name)).toEqual([]);
  });

  it('npm run rebuild-read-models on the cluster restores the same read models (services stopped)', async () => {
    const hh = harness();
    const cluster = hh.redis;
    if (!(cluster instanceof Cluster)) throw new Error('not on a cluster');
    await Promise.all([...hh.system.processes.values()].filter((p) => SUBGRAPHS.some((s) => p.name.startsWith(`${s}-`))).map((p) => p.stop()));
    const original = await dumpReadModels(cluster);
    expect([...original.keys()].filter((k) => /^orders:\{[^}]*\}$/.test(k)).length).toBe(hh.placed.filter((p) => p.orderId).length);
    const started = Date.now();
    const result = await rebuildReadModels({ redis: cluster, kafka: hh.kafka, logger: createLogger('rebuild-read-models').child({}, { level: 'warn' }) });
    rebuildNotes.push(`rebuild-read-models on the cluster: ${result.deletedKeys} keys wiped on ${cluster.nodes('master').length} masters, ${result.events} events replayed in ${Date.now() - started} ms, read models equal`);
    expect(result.deletedKeys).toBeGreaterThanOrEqual(original.size);
    const rebuilt = await dumpReadModels(cluster);
    expect(Object.fromEntries([...rebuilt].sort())).toEqual(Object.fromEntries([...original].sort()));
  });
});
