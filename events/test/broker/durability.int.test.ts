import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, kafkaFor, killChild, repoRoot, spawnTs, startTestBroker, waitFor, type Child } from './helpers.js';

const cli = resolve(repoRoot, 'events/src/broker/cli.ts');
const dataDir = mkdtempSync(join(tmpdir(), 'broker-durability-'));
const children: Child[] = [];

afterAll(async () => {
  for (const c of children) await killChild(c);
  rmSync(dataDir, { recursive: true, force: true });
});

async function startCliBroker(port: number): Promise<{ child: Child; address: string }> {
  const child = spawnTs(cli, ['--port', String(port), '--data-dir', dataDir, '--partitions', '2']);
  children.push(child);
  const m = await child.waitForLine(/^broker listening on (\S+)$/, 30_000);
  return { child, address: m[1]! };
}

describe('durability', () => {
  it('keeps records and committed offsets across kill -9 and restart on the same data dir', async () => {
    const port = await freePort();
    const first = await startCliBroker(port);
    expect(first.address).toBe(`127.0.0.1:${port}`);
    const kafka = kafkaFor(first.address);
    const topic = 'durable';
    const groupId = 'durable-reader';

    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 1000; i += 100) {
      await producer.send({ topic, acks: -1, messages: Array.from({ length: 100 }, (_, j) => ({ key: `k${(i + j) % 7}`, value: String(i + j) })) });
    }
    await producer.disconnect();

    const consumedBefore: string[] = [];
    const c1 = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await c1.connect();
    await c1.subscribe({ topic, fromBeginning: true });
    await c1.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (consumedBefore.length >= 400) return;
        consumedBefore.push(message.value!.toString());
        await c1.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      },
    });
    await waitFor('400 consumed', () => consumedBefore.length >= 400);
    await c1.stop();
    const committed = await (async () => {
      const admin = kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      await admin.disconnect();
      return offsets[0]!.partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition);
    })();
    await c1.disconnect();

    await killChild(first.child, 'SIGKILL');
    const second = await startCliBroker(port);
    expect(second.address).toBe(first.address);

    const kafka2 = kafkaFor(second.address);
    const admin = kafka2.admin();
    await admin.connect();
    const after = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(after[0]!.partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition)).toEqual(committed);
    const highs = await admin.fetchTopicOffsets(topic);
    expect(highs.reduce((n, p) => n + Number(p.high), 0)).toBe(1000);
    await admin.disconnect();

    const consumedAfter: { partition: number; offset: number; value: string }[] = [];
    const c2 = kafka2.consumer({ groupId, maxWaitTimeInMs: 100 });
    await c2.connect();
    await c2.subscribe({ topic, fromBeginning: true });
    await c2.run({ eachMessage: async ({ partition, message }) => void consumedAfter.push({ partition, offset: Number(message.offset), value: message.value!.toString() }) });
    await waitFor('rest consumed', () => consumedBefore.length + consumedAfter.length >= 1000, 30_000);
    await c2.disconnect();

    for (const { partition, offset } of committed) {
      const firstSeen = Math.min(...consumedAfter.filter((m) => m.partition === partition).map((m) => m.offset));
      if (Number.isFinite(firstSeen)) expect(firstSeen).toBe(offset === '-1' ? 0 : Number(offset));
    }
    const all = [...consumedBefore, ...consumedAfter.map((m) => m.value)].map(Number).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));

    // The restarted log keeps appending after the recovered offsets.
    const p2 = kafka2.producer();
    await p2.connect();
    const [res] = await p2.send({ topic, messages: [{ partition: 0, value: 'after-restart' }] });
    await p2.disconnect();
    expect(Number(res!.baseOffset)).toBe(Number(highs.find((h) => h.partition === 0)!.high));

    // SIGTERM stops it cleanly.
    const exited = new Promise<number | null>((r) => second.child.proc.once('exit', (code) => r(code)));
    process.kill(second.child.proc.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
  });

  it('survives a clean in-process restart with fsync=always, committed offsets included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-clean-'));
    try {
      let broker = await startTestBroker({ dataDir: dir, fsync: 'always', defaultPartitions: 3 });
      let kafka = kafkaFor(broker.address);
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      await producer.send({ topic: 'clean', messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
      await producer.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      await admin.setOffsets({ groupId: 'clean-group', topic: 'clean', partitions: [0, 1, 2].map((partition) => ({ partition, offset: '1' })) });
      const before = await admin.fetchTopicOffsets('clean');
      await admin.disconnect();
      await broker.close();

      broker = await startTestBroker({ dataDir: dir, fsync: 'always' });
      kafka = kafkaFor(broker.address);
      const admin2 = kafka.admin();
      await admin2.connect();
      expect(await admin2.fetchTopicOffsets('clean')).toEqual(before);
      const offsets = await admin2.fetchOffsets({ groupId: 'clean-group', topics: ['clean'] });
      expect(offsets[0]!.partitions.map((p) => p.offset)).toEqual(['1', '1', '1']);
      expect((await admin2.listGroups()).groups.map((g) => g.groupId)).toContain('clean-group');
      await admin2.disconnect();
      await broker.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
