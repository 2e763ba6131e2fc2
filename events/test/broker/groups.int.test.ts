import { resolve } from 'node:path';
import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/index.js';
import { killChild, kafkaFor, spawnTs, startTestBroker, waitFor, type Child } from './helpers.js';

let broker: Broker;
let child: Child | undefined;
const consumers: Consumer[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await killChild(child);
  await Promise.allSettled(consumers.map((c) => c.disconnect()));
  await broker?.close();
});

describe('consumer groups', () => {
  it('splits partitions between three members and hands a SIGKILLed member’s partitions to the others', async () => {
    const topic = 'group-split';
    const groupId = 'splitters';
    const perPartition = 60;
    const partitions = 6;
    const kafka = kafkaFor(broker.address);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
    const producer = kafka.producer();
    await producer.connect();
    for (let p = 0; p < partitions; p++) {
      await producer.send({ topic, messages: Array.from({ length: perPartition }, (_, i) => ({ partition: p, value: `${p}:${i}` })) });
    }
    await producer.disconnect();

    // In-process members commit every record before taking the next, like the child does.
    const seen: { p: number; o: number; by: string }[] = [];
    const assignments = new Map<string, number[]>();
    for (const name of ['a', 'b']) {
      const c = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
      consumers.push(c);
      c.on(c.events.GROUP_JOIN, (e) => assignments.set(name, e.payload.memberAssignment[topic] ?? []));
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachMessage: async ({ partition, message, heartbeat }) => {
          seen.push({ p: partition, o: Number(message.offset), by: name });
          await new Promise((r) => setTimeout(r, 25));
          await c.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
          await heartbeat();
        },
      });
    }

    child = spawnTs(resolve(import.meta.dirname, 'fixtures/group-member.ts'), [broker.address, groupId, topic, '50']);
    const stableWithThree = async () => {
      const g = (await admin.describeGroups([groupId])).groups[0]!;
      return g.state === 'Stable' && g.members.length === 3;
    };
    await waitFor('three members stable', stableWithThree, 30_000, 100);
    // Each member owns some partitions once the group has settled.
    await waitFor('child consuming', () => child!.lines.filter((l) => l.includes('"committed"')).length >= 5, 20_000);
    const childJoins = child.lines.filter((l) => l.includes('"joined"')).map((l) => JSON.parse(l) as { assignment: Record<string, number[]> });
    const childPartitions = childJoins[childJoins.length - 1]!.assignment[topic] ?? [];
    expect(childPartitions.length).toBeGreaterThan(0);
    const owned = [...assignments.values(), childPartitions].flat().sort();
    expect(owned).toEqual([0, 1, 2, 3, 4, 5]);

    const killedAt = Date.now();
    await killChild(child, 'SIGKILL');
    const events = child.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { ev: string; p: number; o: number });
    const childSeen = events.filter((e) => e.ev === 'seen');
    const childCommitted = new Set(events.filter((e) => e.ev === 'committed').map((e) => `${e.p}:${e.o}`));

    // After the dead member's session times out the survivors take over and finish everything.
    const all = () => new Set([...seen.map((s) => `${s.p}:${s.o}`), ...childSeen.map((s) => `${s.p}:${s.o}`)]);
    await waitFor('every record consumed', () => all().size === partitions * perPartition, 45_000, 100);
    const g = (await admin.describeGroups([groupId])).groups[0]!;
    expect(g.members).toHaveLength(2);
    const takeover = seen.filter((s) => childPartitions.includes(s.p));
    expect(takeover.length).toBeGreaterThan(0);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(5_000);

    // Nothing the child committed is delivered again; only its in-flight, uncommitted record may be.
    const survivorsKeys = seen.map((s) => `${s.p}:${s.o}`);
    expect(survivorsKeys.filter((k) => childCommitted.has(k))).toEqual([]);
    const redelivered = childSeen.map((s) => `${s.p}:${s.o}`).filter((k) => survivorsKeys.includes(k));
    expect(redelivered.every((k) => !childCommitted.has(k))).toBe(true);
    expect(redelivered.length).toBeLessThanOrEqual(childPartitions.length);
    await admin.disconnect();
  });
});
