// Partition leaders on two brokers, moved, and one broker going away: our producer and consumer (kafkajs
// with the services' settings, processed markers in a real redis-server) keep delivering, nothing lost.
// The embedded broker is one node by design; a proxy in front of it (fixtures/leader-map-proxy.ts) plays a
// two-broker cluster over the Kafka protocol: its Metadata names two brokers and a leader per partition,
// and a broker that does not lead a partition answers NOT_LEADER_OR_FOLLOWER, as Kafka does after a move.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { createEvent } from '../../src/contracts/create.js';
import type { AnyEvent } from '../../src/contracts/envelope.js';
import { TOPICS } from '../../src/contracts/topics.js';
import { createKafka } from '../../src/kafka/client.js';
import { startConsumer, type ConsumerRunner } from '../../src/kafka/consumer.js';
import { createEventProducer, type EventProducer } from '../../src/kafka/producer.js';
import { ensureTopics } from '../../src/kafka/topics-admin.js';
import { NO_LEADER, startLeaderMapProxy, type LeaderMapProxy } from './fixtures/leader-map-proxy.js';
import { delay, startRedis, testLogger, waitFor, type TestRedis } from './helpers.js';

const PARTITIONS = 6;
let broker: Broker;
let redis: TestRedis;
let proxy: LeaderMapProxy;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  broker = await startBroker({ host: '127.0.0.1', port: 0, logger: testLogger });
  const direct = createKafka({ brokers: [broker.address], clientId: 'leader-moves-setup', logger: testLogger });
  await ensureTopics(direct, { partitions: PARTITIONS });
  // Broker 1 leads the even partitions and coordinates the group, broker 2 the odd ones.
  proxy = await startLeaderMapProxy({ upstream: broker.address, nodes: [1, 2], initialLeader: (_t, p) => (p % 2 === 0 ? 1 : 2), coordinator: 1 });
}, 30_000);

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await proxy?.close();
  await broker?.close();
  await redis?.stop();
});

const cancellation = (n: number): AnyEvent =>
  createEvent('OrderCancellationRequested', { orderId: `ord-${n}`, requestedBy: 'cus-1', reason: 'leader moves' }, { key: `ord-${n}`, correlationId: `corr-${n}` });

it('keeps producing and consuming through leader moves and a broker going away, nothing lost', async () => {
  // The services' client settings: only the bootstrap list points at the proxy's two brokers.
  const kafka = createKafka({ brokers: [...proxy.addresses], clientId: 'leader-moves', logger: testLogger });
  const producer: EventProducer = await createEventProducer({ kafka, logger: testLogger });
  closers.push(() => producer.close());
  const handled = new Map<string, number>();
  const emittedSeen = new Set<string>();
  // The consumer also publishes from its batches (the saga's path): a StockReleased per cancellation.
  const runner: ConsumerRunner = await startConsumer({
    kafka,
    redis: redis.client,
    groupId: 'leader-moves',
    topics: [TOPICS.orders],
    logger: testLogger,
    producer,
    sessionTimeoutMs: 6_000,
    handle: async (event, ctx) => {
      if (event.type !== 'OrderCancellationRequested') return 'ignored';
      handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
      ctx.emit(createEvent('StockReleased', { orderId: event.payload.orderId, lines: [{ productId: 'prd_leader', quantity: 1 }] }, { key: event.payload.orderId, correlationId: event.correlationId, causationId: event.id }));
    },
  });
  closers.push(() => runner.close());
  const downstream: ConsumerRunner = await startConsumer({
    kafka,
    redis: redis.client,
    groupId: 'leader-moves-downstream',
    topics: [TOPICS.inventory],
    logger: testLogger,
    producer,
    sessionTimeoutMs: 6_000,
    handle: async (event) => {
      if (event.type !== 'StockReleased') return 'ignored';
      emittedSeen.add(event.payload.orderId);
    },
  });
  closers.push(() => downstream.close());

  const published: AnyEvent[] = [];
  let n = 0;
  /** Publishes one event every `everyMs` for `ms` (bounded), each awaited: a publish that fails fails the test. */
  const publishFor = async (ms: number, everyMs = 20) => {
    const until = Date.now() + ms;
    const sends: Promise<void>[] = [];
    while (Date.now() < until && n < 2_000) {
      const event = cancellation(n++);
      published.push(event);
      sends.push(producer.publish(event));
      await delay(everyMs);
    }
    await Promise.all(sends);
  };
  const orderIdOf = (e: AnyEvent) => (e.payload as { orderId: string }).orderId;
  const allDelivered = () => published.every((e) => handled.has(e.id) && emittedSeen.has(orderIdOf(e)));
  const progress = () => `${published.length} published, ${published.filter((e) => !handled.has(e.id)).length} not handled, ${published.filter((e) => !emittedSeen.has(orderIdOf(e))).length} emitted not seen`;

  // 1. Leaders on both brokers.
  await publishFor(1_000);
  await waitFor('the first events through both brokers', allDelivered, 30_000);
  expect(proxy.forwarded[1]).toBeGreaterThan(0);
  expect(proxy.forwarded[2]).toBeGreaterThan(0);

  // 2. Leaders move both ways while events flow: the old leader answers NOT_LEADER_OR_FOLLOWER.
  const flowing = publishFor(3_000);
  await delay(500);
  const movedTo1 = proxy.moveLeaders(1, (_t, p) => p === 1 || p === 3);
  const movedTo2 = proxy.moveLeaders(2, (_t, p) => p === 0);
  await flowing;
  expect(movedTo1 + movedTo2).toBeGreaterThan(0);
  await waitFor('the events around the moves', allDelivered, 30_000);
  const notLeader = Object.values(proxy.notLeaderAnswers).reduce((a, b) => a + b, 0);
  expect(notLeader, 'requests the old leaders turned away').toBeGreaterThan(0);

  // 3. Broker 2 goes away (its connections reset, its port closed). Half a second later its partitions are
  // offline (no leader, LEADER_NOT_AVAILABLE), as until the cluster elects new leaders; 1.5 s later broker 1
  // leads them.
  const flowingOn = publishFor(4_000);
  await delay(500);
  await proxy.stopNode(2);
  await delay(500);
  const offline = proxy.moveLeaders(NO_LEADER, (_t, _p, leader) => leader === 2);
  expect(offline).toBeGreaterThan(0);
  await delay(1_500);
  proxy.moveLeaders(1, (_t, _p, leader) => leader === NO_LEADER);
  await flowingOn;
  for (let p = 0; p < PARTITIONS; p++) expect(proxy.leaderOf(TOPICS.orders, p)).toBe(1);
  await waitFor('every event after broker 2 went away', allDelivered, 60_000).catch((err: Error) => {
    throw new Error(`${err.message} (${progress()})`);
  });

  expect(published.length).toBeGreaterThan(100);
  const missing = published.filter((e) => !handled.has(e.id));
  expect(missing, 'events never handled').toEqual([]);
  // The processed markers keep a redelivered event from being handled twice.
  expect([...handled.values()].filter((count) => count > 1)).toEqual([]);
  expect(emittedSeen.size).toBe(published.length);
}, 120_000);
