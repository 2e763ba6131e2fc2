// Sharded pub/sub on a real Redis Cluster (3 masters, 3 replicas, redis-server on 127.0.0.1): channels of
// aggregates on different masters are published with SPUBLISH and heard through SSUBSCRIBE on the master that
// owns their slot; when that master is SIGKILLed and its replica takes over, the streams are told once every
// channel is subscribed again, and from then on they hear what is published. On one node the same module
// keeps classic PUBLISH/SUBSCRIBE.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clusterInfo, clusterMasters, startRedisCluster, type RedisCluster } from '../../scripts/lib/redis-cluster.js';
import { waitUntil } from '../../scripts/lib/processes.js';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.js';
import { createChannelPubSub, type ChannelPubSub } from '../src/channel-pubsub.js';
import { watchPubSubReconnects } from '../src/pubsub-reconnects.js';
import { connectRedis, connectSubscriber } from '../src/redis.js';

const logger = pino({ level: 'silent' });
const dataDir = mkdtempSync(join(tmpdir(), 'channel-pubsub-cluster-'));
let cluster: RedisCluster;
let admin: Cluster;
let pubsub: ChannelPubSub;

beforeAll(async () => {
  cluster = await startRedisCluster({ dataDir, logDir: dataDir, nodeTimeoutMs: 2_000 });
  const target = { redisUrl: 'redis://unused', redisClusterNodes: cluster.nodes.slice(0, 2) };
  pubsub = createChannelPubSub({ publisher: await connectRedis(target, logger), subscriber: await connectSubscriber(target, logger) });
  admin = (await connectRedis(target, logger)) as Cluster;
  // A replica is listed once it is in sync with its master: only then can it take over.
  await waitUntil('every master to have its replica in sync', async () => (await admin.cluster('SLOTS')).every((range) => range.length >= 4), 60_000, 100);
}, 120_000);

afterAll(async () => {
  await pubsub?.close().catch(() => undefined);
  admin?.disconnect();
  await Promise.all((cluster?.processes ?? []).map((p) => p.stop(1_000)));
  rmSync(dataDir, { recursive: true, force: true });
});

/** The master serving `channel`'s slot, as `host:port`. */
async function masterOf(channel: string): Promise<string> {
  const slot = Number(await admin.cluster('KEYSLOT', channel));
  const ranges = await admin.cluster('SLOTS');
  const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
  if (!master) throw new Error(`no master for slot ${slot}`);
  return `${master[0]}:${master[1]}`;
}

/** One order-status channel (tagged like the order's keys) on each master. */
async function channelPerMaster(): Promise<Map<string, string>> {
  const byMaster = new Map<string, string>();
  for (let i = 0; byMaster.size < 3 && i < 1_000; i++) {
    const channel = `order-status:{ord_${i}}`;
    const master = await masterOf(channel);
    if (!byMaster.has(master)) byMaster.set(master, channel);
  }
  return byMaster;
}

it('publishes with SPUBLISH to the master of the channel, heard there through SSUBSCRIBE, after a failover too', async () => {
  expect(pubsub.sharded).toBe(true);
  const reconnects = watchPubSubReconnects(pubsub, logger);
  const byMaster = await channelPerMaster();
  expect(byMaster.size, 'a channel on each of the 3 masters').toBe(3);
  const received = new Map<string, string[]>();
  for (const channel of byMaster.values()) {
    received.set(channel, []);
    await pubsub.subscribe<{ n: string }>(channel, (m) => void received.get(channel)!.push(m.n));
  }
  for (const [master, channel] of byMaster) {
    // Sharded: the owning master counts the subscriber among its shard channels, and none subscribed classically.
    const [host, port] = master.split(':');
    const node = new Redis({ host, port: Number(port), lazyConnect: true });
    await node.connect();
    expect(await node.call('PUBSUB', 'SHARDNUMSUB', channel)).toEqual([channel, 1]);
    expect(await node.call('PUBSUB', 'NUMSUB', channel)).toEqual([channel, 0]);
    node.disconnect();
    await pubsub.publish(channel, { n: 'before' });
  }
  await expect.poll(() => [...received.values()]).toEqual([['before'], ['before'], ['before']]);

  // SIGKILL the master of the first channel; its replica takes over.
  const [victim, victimChannel] = [...byMaster][0]!;
  const index = cluster.nodes.indexOf(victim);
  expect(index).toBeGreaterThanOrEqual(0);
  let resumed = 0;
  const firstResume = new Promise<void>((resolve) =>
    reconnects.onResubscribed(() => {
      resumed++;
      resolve();
    }),
  );
  const proc = cluster.processes[index]!;
  proc.signal('SIGKILL');
  await proc.exited();
  const others = cluster.nodes.filter((n) => n !== victim);
  await waitUntil(
    'a replica to take over',
    async () => !(await clusterMasters(others[0]!)).includes(victim) && (await Promise.all(others.map(clusterInfo))).every((i) => i?.cluster_state === 'ok'),
    60_000,
    100,
  );
  await firstResume;
  expect(resumed).toBeGreaterThanOrEqual(1);
  const promoted = await masterOf(victimChannel);
  expect(promoted).not.toBe(victim);

  // Right after the signal every channel is subscribed on its current master: what is published now is heard.
  for (const channel of byMaster.values()) await pubsub.publish(channel, { n: 'after' });
  await expect.poll(() => [...received.values()].map((r) => r.at(-1))).toEqual(['after', 'after', 'after']);
  const [host, port] = promoted.split(':');
  const node = new Redis({ host, port: Number(port), lazyConnect: true });
  await node.connect();
  expect(await node.call('PUBSUB', 'SHARDNUMSUB', victimChannel)).toEqual([victimChannel, 1]);
  node.disconnect();

  // The old master comes back as a replica and answers MOVED for its former slots. Publishes to several of
  // those slots at once (as a consumer's batch sends them) are redirected, none refused.
  await proc.restart();
  await waitUntil('the old master to rejoin', async () => (await clusterInfo(victim))?.cluster_state === 'ok', 60_000, 100);
  const moved: string[] = [];
  for (let i = 0; moved.length < 6 && i < 2_000; i++) if ((await masterOf(`order-status:{ord_moved_${i}}`)) === promoted) moved.push(`order-status:{ord_moved_${i}}`);
  const heard = new Set<string>();
  for (const channel of moved) await pubsub.subscribe(channel, () => void heard.add(channel));
  await Promise.all(moved.map((channel) => pubsub.publish(channel, { n: 'redirected' })));
  await expect.poll(() => heard.size).toBe(moved.length);
  reconnects.close();
}, 120_000);

it('redirects publishes to several slots at once after a failover the publisher did not see', async () => {
  // A manual failover: the old master stays up as a replica and answers MOVED, nothing drops a connection, so
  // the publisher's slot map is stale when the publishes go out together, as a consumer's batch sends them.
  const ranges = await admin.cluster('SLOTS');
  const range = ranges.find((r) => r.length >= 4)!;
  const [from, to] = range;
  const replica = range[3]!;
  const owned: string[] = [];
  for (let i = 0; owned.length < 6 && i < 5_000; i++) {
    const slot = Number(await admin.cluster('KEYSLOT', `order-status:{ord_manual_${i}}`));
    if (slot >= from && slot <= to) owned.push(`order-status:{ord_manual_${i}}`);
  }
  const heard = new Set<string>();
  for (const channel of owned) await pubsub.subscribe(channel, () => void heard.add(channel));
  await Promise.all(owned.map((channel) => pubsub.publish(channel, { n: 'before' })));
  await expect.poll(() => heard.size).toBe(owned.length);
  heard.clear();

  const promoted = new Redis({ host: replica[0], port: replica[1], lazyConnect: true });
  await promoted.connect();
  await promoted.cluster('FAILOVER');
  await waitUntil('the replica to take over', async () => (await masterOf(owned[0]!)) === `${replica[0]}:${replica[1]}`, 30_000, 100);
  promoted.disconnect();

  await Promise.all(owned.map((channel) => pubsub.publish(channel, { n: 'after' })));
  await expect.poll(() => heard.size).toBe(owned.length);
}, 60_000);

it('unsubscribes from the shard channel once its last listener leaves', async () => {
  const channel = 'stock:{prd_unsubscribe}';
  const heard: unknown[] = [];
  const a = await pubsub.subscribe(channel, (m) => void heard.push(m));
  const b = await pubsub.subscribe(channel, (m) => void heard.push(m));
  await pubsub.publish(channel, { productId: 'prd_unsubscribe' });
  await expect.poll(() => heard.length).toBe(2);
  pubsub.unsubscribe(a);
  const [host, port] = (await masterOf(channel)).split(':');
  const node = new Redis({ host, port: Number(port), lazyConnect: true });
  await node.connect();
  expect(await node.call('PUBSUB', 'SHARDNUMSUB', channel)).toEqual([channel, 1]);
  pubsub.unsubscribe(b);
  await expect.poll(() => node.call('PUBSUB', 'SHARDNUMSUB', channel)).toEqual([channel, 0]);
  node.disconnect();
});

it('stays classic PUBLISH/SUBSCRIBE on one node', async () => {
  let server: RedisServer | undefined;
  let single: ChannelPubSub | undefined;
  try {
    server = await startRedisServer();
    single = createChannelPubSub({ publisher: await connectRedis(server.url, logger), subscriber: await connectSubscriber(server.url, logger) });
    expect(single.sharded).toBe(false);
    const heard: unknown[] = [];
    await single.subscribe('order-status:{ord_single}', (m) => void heard.push(m));
    const probe = new Redis(server.url);
    expect(await probe.call('PUBSUB', 'NUMSUB', 'order-status:{ord_single}')).toEqual(['order-status:{ord_single}', 1]);
    expect(await probe.call('PUBSUB', 'SHARDNUMSUB', 'order-status:{ord_single}')).toEqual(['order-status:{ord_single}', 0]);
    probe.disconnect();
    await single.publish('order-status:{ord_single}', { sequence: 1 });
    await expect.poll(() => heard).toEqual([{ sequence: 1 }]);
  } finally {
    await single?.close().catch(() => undefined);
    await server?.stop();
  }
});
