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
  it('splits partitions between three members and hands a SIGKILLed member’s partitions to the others', { timeout: 90_000 }, async () => {
    const topic = 'group-split';
    const groupId = 'splitters';
    const perPartition = 150;
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

    // The child starts first so it certainly owns partitions with work left when it is killed.
    child = spawnTs(resolve(import.meta.dirname, 'fixtures/group-member.ts'), [broker.address, groupId, topic, '50']);
    await child.waitForLine(/"ev":"joined"/, 30_000);

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
          await new Promise((r) => setTimeout(r, 10));
          await c.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
          await heartbeat();
        },
      });
    }

    const childAssignment = (): number[] => {
      const joins = child!.lines.filter((l) => l.includes('"joined"'));
      return (JSON.parse(joins[joins.length - 1]!) as { assignment: Record<string, number[]> }).assignment[topic] ?? [];
    };
    // Settled: three members, and between them every partition is owned exactly once.
    await waitFor(
      'three members sharing all partitions',
      async () => {
        const g = (await admin.describeGroups([groupId])).groups[0]!;
        const owned = [...assignments.values(), childAssignment()].flat().sort();
        return g.state === 'Stable' && g.members.length === 3 && assignments.size === 2 && owned.join() === '0,1,2,3,4,5';
      },
      40_000,
      100,
    );
    const childPartitions = childAssignment();
    expect(childPartitions.length).toBeGreaterThan(0);
    expect(childPartitions.length).toBeLessThan(partitions);
    // The child is consuming its share of the new generation when it dies.
    const committedOnOwn = () =>
      child!.lines.filter((l) => l.includes('"committed"') && childPartitions.includes((JSON.parse(l) as { p: number }).p)).length;
    const before = committedOnOwn();
    await waitFor('child consuming its partitions', () => committedOnOwn() >= before + 3, 20_000);

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
