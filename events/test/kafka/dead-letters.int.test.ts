import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { EventError } from '../../src/errors.js';
import { processedKey } from '../../src/kafka/consumer.js';
import { runDeadLettersCli } from '../../src/cli/dead-letters-command.js';
import { readDeadLetters, redriveDeadLetters } from '../../src/kafka/dead-letters.js';
import { cancellation, recorder, useEventInfra } from './fixture.js';
import { TSX_NODE_ARGS } from '../../../scripts/lib/processes.js';
import { delay, waitFor } from './helpers.js';

const infra = useEventInfra();
const repoRoot = resolve(import.meta.dirname, '../../..');

describe('dead letters (embedded broker, redis-server)', () => {
  it('malformed records (garbage, unknown type, schema failure) go to <topic>.dlq byte for byte; the next record is processed', async () => {
    const { kafka, producer } = await infra.start();
    const raw = kafka.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await raw.connect();
    const good = cancellation('ord-m', { id: 'evt-good' });
    const garbage = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x6e, 0x6f]); // `{"` + invalid UTF-8 + NUL
    const unknownType = Buffer.from(JSON.stringify({ ...good, id: 'evt-unknown', type: 'OrderShipped' }));
    const badSchema = Buffer.from(JSON.stringify({ ...good, id: 'evt-bad', payload: { orderId: 'ord-m', reason: 42 } }));
    const headers = { 'x-correlation-id': 'corr-m', 'x-custom': Buffer.from([1, 2, 3]) };
    // Same key as the good event: same partition, so the good one comes after the three bad ones.
    await raw.send({ topic: 'shop.orders', messages: [garbage, unknownType, badSchema].map((value) => ({ key: 'ord-m', value, headers })) });
    await raw.disconnect();
    await producer.publish(good);

    const rec = recorder();
    const groupId = `g-malformed-${Date.now()}`;
    await infra.consumer(kafka, producer, { groupId, handle: rec.handle });
    await waitFor('the good record', () => rec.seen.length === 1);
    expect(rec.ids()).toEqual(['evt-good']);

    const letters = await waitFor('three dead letters', async () => {
      const l = await readDeadLetters(kafka.kafka, { topic: 'shop.orders' });
      return l.length === 3 ? l : null;
    });
    expect(letters.map((l) => l.record.value)).toEqual([garbage, unknownType, badSchema]);
    const partition = rec.seen[0]!.ctx.partition;
    for (const [i, l] of letters.entries()) {
      expect(l).toMatchObject({
        dlqTopic: 'shop.orders.dlq',
        sourceTopic: 'shop.orders',
        sourcePartition: partition,
        sourceOffset: String(i),
        consumerGroup: groupId,
        attempts: 0,
        key: 'ord-m',
      });
      expect(l.record.headers?.['x-correlation-id']).toEqual(Buffer.from('corr-m'));
      expect(l.record.headers?.['x-custom']).toEqual(Buffer.from([1, 2, 3]));
      expect(Date.now() - Date.parse(l.failedAt!)).toBeLessThan(30_000);
    }
    expect(letters[0]!.error).toMatch(/^EventContractError: record value is not JSON/);
    expect(letters[0]!.eventType).toBeNull();
    expect(letters[1]!.error).toMatch(/^EventContractError: unknown event type "OrderShipped"/);
    expect(letters[1]!.eventType).toBe('OrderShipped');
    expect(letters[2]!.error).toBe(
      'EventContractError: invalid OrderCancellationRequested v1 payload: payload.requestedBy: Invalid input: expected string, received undefined; payload.reason: Invalid input: expected string, received number',
    );
  });

  it('a handler failing with a non-retriable error maxAttempts times → dead letter; the consumer goes on', async () => {
    const { kafka, producer } = await infra.start();
    const calls = new Map<string, number>();
    const rec = recorder();
    const groupId = `g-poison-${Date.now()}`;
    await infra.consumer(kafka, producer, {
      groupId,
      maxAttempts: 3,
      handle: async (event, ctx) => {
        calls.set(event.id, (calls.get(event.id) ?? 0) + 1);
        if (event.id === 'evt-poison') throw new Error('cannot apply this cancellation');
        await rec.handle(event, ctx);
      },
    });
    await producer.publish([cancellation('ord-p', { id: 'evt-poison' }), cancellation('ord-p', { id: 'evt-next' })]);

    await waitFor('the next event', () => rec.seen.length === 1);
    expect(rec.ids()).toEqual(['evt-next']);
    expect(calls.get('evt-poison')).toBe(3);
    const [letter] = await readDeadLetters(kafka.kafka, { topic: 'shop.orders.dlq' });
    expect(letter).toMatchObject({ eventType: 'OrderCancellationRequested', eventId: 'evt-poison', attempts: 3, error: 'Error: cannot apply this cancellation' });
    const { topic, partition } = rec.seen[0]!.ctx; // both events have one key, so one partition
    expect(await infra.redis.client.exists(processedKey(groupId, topic, partition, 'evt-poison'))).toBe(0);
    expect(await infra.redis.client.exists(processedKey(groupId, topic, partition, 'evt-next'))).toBe(1);
  });

  it('a retriable error is retried (beyond maxAttempts) until it succeeds, then processed once, no dead letter', async () => {
    const { kafka, producer } = await infra.start();
    let attempts = 0;
    const rec = recorder();
    await infra.consumer(kafka, producer, {
      maxAttempts: 1,
      handle: async (event, ctx) => {
        if (event.id === 'evt-flaky' && ++attempts <= 3) throw new EventError('redis is down', { retriable: true });
        await rec.handle(event, ctx);
      },
    });
    await producer.publish([cancellation('ord-f', { id: 'evt-flaky' }), cancellation('ord-f', { id: 'evt-after' })]);
    await waitFor('both events', () => rec.seen.length === 2);
    await delay(200);
    expect(rec.ids()).toEqual(['evt-flaky', 'evt-after']);
    expect(attempts).toBe(4);
    expect(await readDeadLetters(kafka.kafka, { topic: 'shop.orders' })).toEqual([]);
  });

  it('re-drive publishes the original record back once; the fixed consumer processes it', async () => {
    const { kafka, producer } = await infra.start();
    let broken = true;
    const rec = recorder();
    await infra.consumer(kafka, producer, {
      maxAttempts: 1,
      handle: async (event, ctx) => {
        if (broken && event.id === 'evt-r') throw new Error('bug, fixed in the next deploy');
        await rec.handle(event, ctx);
      },
    });
    await producer.publish([cancellation('ord-r', { id: 'evt-r', correlationId: 'corr-r' }), cancellation('ord-r', { id: 'evt-r2' })]);
    await waitFor('the second event', () => rec.ids().includes('evt-r2'));
    const [letter] = await readDeadLetters(kafka.kafka, { topic: 'shop.orders' });
    expect(letter?.eventId).toBe('evt-r');

    broken = false;
    const result = await redriveDeadLetters({ kafka: kafka.kafka, redis: infra.redis.client, topic: 'shop.orders', select: { all: true } });
    expect(result.redriven.map((d) => d.eventId)).toEqual(['evt-r']);
    await waitFor('the re-driven event', () => rec.ids().includes('evt-r'));
    const redriven = rec.seen.find((s) => s.event.id === 'evt-r')!;
    expect(redriven.ctx.headers).toMatchObject({
      'x-correlation-id': 'corr-r',
      'x-event-id': 'evt-r',
      'x-redriven-from': `shop.orders.dlq:${letter!.partition}:${letter!.offset}`,
    });
    expect(Object.keys(redriven.ctx.headers).filter((h) => h.startsWith('x-dlq-'))).toEqual([]);

    // Again: nothing new is published.
    const again = await redriveDeadLetters({
      kafka: kafka.kafka,
      redis: infra.redis.client,
      topic: 'shop.orders.dlq',
      select: { offset: letter!.offset, partition: letter!.partition },
    });
    expect(again).toMatchObject({ redriven: [], alreadyRedriven: [{ eventId: 'evt-r' }] });
    await delay(300);
    expect(rec.ids().filter((id) => id === 'evt-r')).toHaveLength(1);
  });

  it('the CLI lists and re-drives, with meaningful exit codes', async () => {
    const { kafka, producer } = await infra.start();
    const rec = recorder();
    await infra.consumer(kafka, producer, {
      maxAttempts: 1,
      handle: async (event, ctx) => {
        if (event.id === 'evt-cli' && !rec.seen.some((s) => s.event.id === 'evt-marker')) throw new Error('not yet');
        await rec.handle(event, ctx);
      },
    });
    await producer.publish([cancellation('ord-c', { id: 'evt-cli' }), cancellation('ord-c', { id: 'evt-marker' })]);
    await waitFor('the marker event', () => rec.ids().includes('evt-marker'));

    const env = { ...process.env, KAFKA_BROKERS: kafka.broker.address, REDIS_URL: infra.redis.url, LOG_LEVEL: 'silent' };
    // In-process (a tsx start per run is slow on a busy box) ...
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runDeadLettersCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
      return { code, stdout: out.join('\n'), stderr: err.join('\n') };
    };
    // ... and once as the real script, for its exit code.
    const spawned = promisify(execFile)(process.execPath, [...TSX_NODE_ARGS, 'events/src/cli/dead-letters.ts', 'redrive', '--topic', 'shop.orders'], {
      cwd: repoRoot,
      env,
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

    const list = await cli('list', '--topic', 'shop.orders', '--json');
    const human = await cli('list');
    const noSuchOffset = await cli('redrive', '--topic', 'shop.orders', '--offset', '99');
    const usage = await cli('redrive', '--topic', 'shop.orders', '--all', '--offset', '1');
    expect(list.code).toBe(0);
    const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([expect.objectContaining({ eventType: 'OrderCancellationRequested', eventId: 'evt-cli', error: 'Error: not yet', redrivenAt: null })]);

    expect(human.code).toBe(0);
    expect(human.stdout).toContain('# shop.orders.dlq: 1 dead letter(s)');
    expect(human.stdout).toContain('# shop.payments.dlq: 0 dead letter(s)');
    expect(human.stdout).toMatch(/event OrderCancellationRequested evt-cli\n {2}error Error: not yet/);
    expect(noSuchOffset).toMatchObject({ code: 1, stderr: expect.stringContaining('no dead letter at offset 99 in shop.orders.dlq') });
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining('redrive needs exactly one of --offset N or --all') });
    expect(await spawned).toMatchObject({ code: 2, stderr: expect.stringContaining('redrive needs exactly one of --offset N or --all') });
    const redrive = await cli('redrive', '--topic', 'shop.orders', '--offset', String(rows[0]!.offset), '--partition', String(rows[0]!.partition));
    expect(redrive).toMatchObject({ code: 0 });
    expect(redrive.stdout).toContain('1 re-driven, 0 already re-driven');
    await waitFor('the re-driven event', () => rec.ids().includes('evt-cli'));

    expect(await infra.redis.client.hkeys('events:dlq:redriven:shop.orders.dlq')).toEqual([`${rows[0]!.partition}:${rows[0]!.offset}`]);
  }, 60_000);
});
