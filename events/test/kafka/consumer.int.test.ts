import { describe, expect, it } from 'vitest';
import { createEvent } from '../../src/contracts/create.js';
import { EventError } from '../../src/errors.js';
import { processedKey } from '../../src/kafka/consumer.js';
import { cancellation, recorder, useEventInfra } from './fixture.js';
import { delay, waitFor } from './helpers.js';

const infra = useEventInfra();

describe('event producer → consumer (embedded broker, redis-server)', () => {
  it('round trip: the typed event arrives with its key, headers and correlation/causation ids', async () => {
    const { kafka, producer } = await infra.start();
    const rec = recorder();
    await infra.consumer(kafka, producer, { handle: rec.handle });
    const placed = createEvent(
      'OrderStatusChanged',
      { orderId: 'ord-1', customerId: 'cus-1', sequence: 1, status: 'PENDING', previous: null, reason: null, at: '2026-01-01T00:00:00.000Z' },
      { key: 'ord-1', correlationId: 'corr-abc', causationId: 'cmd-xyz' },
    );
    const root = cancellation('ord-1', { correlationId: 'corr-abc' });
    await producer.publish([placed, root]);

    await waitFor('both events', () => rec.seen.length === 2);
    expect(rec.seen.map((s) => s.event)).toEqual([placed, root]);
    const [first, second] = rec.seen;
    expect(first!.ctx).toMatchObject({ topic: 'shop.orders', offset: '0' });
    expect(first!.ctx.headers).toEqual({
      'x-event-id': placed.id,
      'x-event-type': 'OrderStatusChanged',
      'x-event-version': '1',
      'x-correlation-id': 'corr-abc',
      'x-causation-id': 'cmd-xyz',
    });
    expect(second!.ctx.headers['x-correlation-id']).toBe('corr-abc');
    expect(second!.ctx.headers).not.toHaveProperty('x-causation-id');
    expect(second!.ctx.partition).toBe(first!.ctx.partition); // same key, same partition
  });

  it('keeps per-key order across 6 partitions, with partitions handled concurrently', async () => {
    const { kafka, producer } = await infra.start();
    const byKey = new Map<string, { seq: number; offset: bigint }[]>();
    const partitions = new Set<number>();
    await infra.consumer(kafka, producer, {
      partitionsConsumedConcurrently: 3,
      handle: async (event, ctx) => {
        if (event.type !== 'OrderStatusChanged') return;
        partitions.add(ctx.partition);
        if (event.payload.sequence % 4 === 0) await delay(2); // uneven handler time across partitions
        byKey.set(event.key, [...(byKey.get(event.key) ?? []), { seq: event.payload.sequence, offset: BigInt(ctx.offset) }]);
      },
    });
    const keys = Array.from({ length: 24 }, (_, i) => `ord-${i}`);
    const steps = 10;
    for (let seq = 1; seq <= steps; seq++) {
      // one call per step: a batch across all keys, so every partition holds each key's events in sequence order
      await producer.publish(
        keys.map((orderId) =>
          createEvent(
            'OrderStatusChanged',
            { orderId, customerId: 'c', sequence: seq, status: 'PENDING', previous: null, reason: null, at: '2026-01-01T00:00:00.000Z' },
            { key: orderId, correlationId: 'corr' },
          ),
        ),
      );
    }
    await waitFor('every event', () => keys.every((k) => byKey.get(k)?.length === steps));
    const inOrder = Array.from({ length: steps }, (_, i) => i + 1);
    for (const key of keys) {
      const seen = byKey.get(key)!;
      expect(seen.map((s) => s.seq), key).toEqual(inOrder);
      expect(seen.every((s, i) => i === 0 || s.offset > seen[i - 1]!.offset)).toBe(true);
    }
    expect(partitions.size).toBeGreaterThan(3); // 24 keys spread over the 6 partitions
  });

  it('a redelivered event id is handled once per group (processed marker in Redis)', async () => {
    const { kafka, producer } = await infra.start();
    const rec = recorder();
    const groupId = `g-dedupe-${Date.now()}`;
    await infra.consumer(kafka, producer, { groupId, handle: rec.handle });
    const event = cancellation('ord-dup', { id: 'evt-dup-1' });
    await producer.publish(event);
    await producer.publish(event); // e.g. a handler that re-emitted its deterministic event
    await producer.publish(cancellation('ord-dup', { id: 'evt-dup-2' }));

    await waitFor('the second id', () => rec.ids().includes('evt-dup-2'));
    expect(rec.ids()).toEqual(['evt-dup-1', 'evt-dup-2']);
    const { topic, partition } = rec.seen[0]!.ctx;
    expect(await infra.redis.client.get(processedKey(groupId, topic, partition, 'evt-dup-1'))).toMatch(/^shop\.orders:\d:0$/);
    const ttl = await infra.redis.client.ttl(processedKey(groupId, topic, partition, 'evt-dup-1'));
    expect(ttl).toBeGreaterThan(6 * 24 * 3600);

    // Another group has its own markers: it handles the event too (once).
    const other = recorder();
    await infra.consumer(kafka, producer, { handle: other.handle });
    await waitFor('the other group', () => other.seen.length === 2);
    await delay(200);
    expect(other.ids()).toEqual(['evt-dup-1', 'evt-dup-2']);
  });

  it('idempotentHandler: markers are not looked up while a member continues a partition, and are where it takes one up again', async () => {
    const { kafka, producer } = await infra.start();
    const groupId = `g-idem-${Date.now()}`;
    const first = recorder();
    const runner = await infra.consumer(kafka, producer, { groupId, handle: first.handle, idempotentHandler: true });
    const event = cancellation('ord-idem', { id: 'evt-idem-1' });
    await producer.publish(event);
    await waitFor('the first delivery', () => first.ids().includes('evt-idem-1'));
    // The same event again, in a later batch of the same member: its handler is trusted to be idempotent.
    await producer.publish(event);
    await waitFor('the duplicate', () => first.ids().length === 2);
    expect(first.ids()).toEqual(['evt-idem-1', 'evt-idem-1']);
    await runner.close();

    // A new member on the group takes the partition up again: the markers are looked up, nothing is handled twice.
    await producer.publish(event);
    await producer.publish(cancellation('ord-idem', { id: 'evt-idem-2' }));
    const second = recorder();
    await infra.consumer(kafka, producer, { groupId, handle: second.handle, idempotentHandler: true });
    await waitFor('the next event', () => second.ids().includes('evt-idem-2'));
    await delay(200);
    expect(second.ids()).toEqual(['evt-idem-2']);
  });

  it('graceful close finishes the in-flight record and commits: the group resumes after it', async () => {
    const { kafka, producer } = await infra.start();
    const groupId = `g-close-${Date.now()}`;
    const first = recorder();
    let slow: Promise<void> | undefined;
    let releaseSlow!: () => void;
    const runner = await infra.consumer(kafka, producer, {
      groupId,
      handle: async (event, ctx) => {
        if (event.id === 'evt-slow') {
          slow = new Promise((r) => (releaseSlow = r));
          await slow;
        }
        await first.handle(event, ctx);
      },
    });
    await producer.publish([cancellation('o', { id: 'evt-1' }), cancellation('o', { id: 'evt-2' }), cancellation('o', { id: 'evt-slow' })]);
    await waitFor('the slow handler to start', () => slow !== undefined);
    const closing = runner.close();
    await delay(200);
    releaseSlow(); // in flight while closing: it must still finish, be marked and committed
    await closing;
    expect(first.ids()).toEqual(['evt-1', 'evt-2', 'evt-slow']);

    // Wipe the markers: only committed offsets can keep the next member from seeing them again.
    await infra.redis.client.flushdb();
    await producer.publish(cancellation('o', { id: 'evt-after' }));
    const second = recorder();
    await infra.consumer(kafka, producer, { groupId, handle: second.handle });
    await waitFor('the record after the close', () => second.seen.length >= 1);
    await delay(300);
    expect(second.ids()).toEqual(['evt-after']);
  });

  it('close() interrupts an endless retriable retry without committing: the next member gets the record', async () => {
    const { kafka, producer } = await infra.start();
    const groupId = `g-outage-${Date.now()}`;
    let attempts = 0;
    const runner = await infra.consumer(kafka, producer, {
      groupId,
      maxRetryDelayMs: 5_000,
      handle: async () => {
        attempts++;
        throw new EventError('downstream is down', { retriable: true });
      },
    });
    await producer.publish(cancellation('o', { id: 'evt-stuck' }));
    await waitFor('a few attempts', () => attempts >= 3);
    const started = Date.now();
    await runner.close();
    expect(Date.now() - started).toBeLessThan(3_000);

    const rec = recorder();
    await infra.consumer(kafka, producer, { groupId, handle: rec.handle });
    await waitFor('the record, uncommitted by the closed member', () => rec.seen.length === 1);
    expect(rec.ids()).toEqual(['evt-stuck']);
  });
});
