/** The batch runner: keys at once and each key in order, one produce per batch, effects after Kafka, poison apart. */
import { describe, expect, it } from 'vitest';
import { createEvent, deterministicEventId } from '../../src/contracts/create.js';
import type { AnyEvent } from '../../src/contracts/envelope.js';
import { EventError } from '../../src/errors.js';
import type { EventProducer } from '../../src/kafka/producer.js';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { killChild, spawnTs, type Child } from '../broker/helpers.js';
import { cancellation, recorder, useEventInfra } from './fixture.js';
import { effectHandler, effectKeys } from './fixtures/effects.js';
import { delay, waitFor, type TestKafka } from './helpers.js';

const infra = useEventInfra();

const statusChange = (orderId: string, sequence: number) =>
  createEvent(
    'OrderStatusChanged',
    { orderId, customerId: 'c', sequence, status: 'PENDING', previous: null, reason: null, at: '2026-01-01T00:00:00.000Z' },
    { key: orderId, correlationId: `corr-${orderId}` },
  );

/** Every record value of `topic`, once `count` have arrived and nothing more came for 300 ms. */
async function readValues(kafka: TestKafka, topic: string, count: number): Promise<string[]> {
  const reader = kafka.kafka.consumer({ groupId: `reader-${randomUUID()}` });
  const values: string[] = [];
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
  await waitFor(`${count} record(s) on ${topic}`, () => values.length >= count);
  await delay(300);
  await reader.disconnect();
  return values;
}

/** Counts the producer calls the consumer makes (each call is at most one produce request). */
function counting(producer: EventProducer): EventProducer & { calls: number } {
  const counted = {
    calls: 0,
    publish: (events: AnyEvent | readonly AnyEvent[]) => {
      counted.calls++;
      return producer.publish(events);
    },
    sendRecords: (topic: string, messages: Parameters<NonNullable<EventProducer['sendRecords']>>[1]) => {
      counted.calls++;
      return producer.sendRecords!(topic, messages);
    },
    close: () => producer.close(),
  };
  return counted;
}

describe('batch runner', () => {
  it('handles different keys at once and each key in order, within one fetched batch', async () => {
    const { kafka, producer } = await infra.start();
    const seen = new Map<string, number[]>();
    let running = 0;
    let maxRunning = 0;
    await infra.consumer(kafka, producer, {
      handle: async (event) => {
        if (event.type !== 'OrderStatusChanged') return 'ignored';
        running++;
        maxRunning = Math.max(maxRunning, running);
        await delay(event.payload.sequence % 3); // uneven handler time
        seen.set(event.key, [...(seen.get(event.key) ?? []), event.payload.sequence]);
        running--;
        return 'ok';
      },
    });
    // Ten orders with twenty changes each, all in one produce request: every partition holds a batch of
    // several orders, each order's changes back to back.
    const orders = Array.from({ length: 10 }, (_, i) => `ord-${i}`);
    await producer.publish(orders.flatMap((orderId) => Array.from({ length: 20 }, (_, s) => statusChange(orderId, s + 1))));
    await waitFor('every change', () => orders.every((o) => seen.get(o)?.length === 20));
    for (const o of orders) expect(seen.get(o), o).toEqual(Array.from({ length: 20 }, (_, s) => s + 1));
    expect(maxRunning).toBeGreaterThan(1);
  });

  it('publishes what a batch emitted in far fewer producer calls than records, then runs the effects once Kafka has the events', async () => {
    const { kafka, producer } = await infra.start();
    const admin = kafka.kafka.admin();
    await admin.connect();
    const counted = counting(producer);
    const effectsSawInKafka: number[] = [];
    await infra.consumer(kafka, counted, {
      topics: ['shop.orders'],
      handle: async (event, ctx) => {
        if (event.type !== 'OrderCancellationRequested') return 'ignored';
        const answer = createEvent(
          'PaymentDeclined',
          { orderId: event.payload.orderId, reason: 'cancelled' },
          { key: event.key, correlationId: event.correlationId, causationId: event.id, id: deterministicEventId('answer', event.id) },
        );
        ctx.emit(answer);
        ctx.afterEmit(async () => {
          const offsets = await admin.fetchTopicOffsets('shop.payments');
          effectsSawInKafka.push(offsets.reduce((sum, p) => sum + Number(p.high), 0));
        });
        return 'ok';
      },
    });
    await producer.publish(Array.from({ length: 200 }, (_, i) => cancellation(`ord-${i % 40}`)));
    await waitFor('every effect', () => effectsSawInKafka.length === 200, 20_000);
    const inKafka = (await admin.fetchTopicOffsets('shop.payments')).reduce((sum, p) => sum + Number(p.high), 0);
    expect(inKafka).toBe(200);
    expect(effectsSawInKafka.every((n) => n >= 1)).toBe(true);
    // 200 records over at most 6 partitions' batches (and a few refetches): nowhere near a call per record.
    expect(counted.calls).toBeLessThan(50);
    await admin.disconnect();
  });

  it('a poison record in a batch goes to its dead-letter topic; the rest of the batch, the same key included, is handled', async () => {
    const { kafka, producer } = await infra.start();
    const rec = recorder();
    await infra.consumer(kafka, producer, {
      maxAttempts: 2,
      handle: async (event, ctx) => {
        if (event.type === 'OrderCancellationRequested' && event.payload.reason === 'poison') throw new EventError('cannot handle this one');
        return rec.handle(event, ctx);
      },
    });
    const poison = createEvent('OrderCancellationRequested', { orderId: 'ord-1', requestedBy: 'x', reason: 'poison' }, { key: 'ord-1', correlationId: 'c' });
    const events = [cancellation('ord-1'), poison, cancellation('ord-1'), cancellation('ord-2'), cancellation('ord-3')];
    await producer.sendRecords!('shop.orders', [{ key: 'ord-1', value: '{not json' }]);
    await producer.publish(events);
    await waitFor('the healthy records', () => rec.seen.length === 4);
    expect(rec.ids()).toEqual(expect.arrayContaining(events.filter((e) => e !== poison).map((e) => e.id)));
    expect(rec.seen.filter((s) => s.event.key === 'ord-1').map((s) => s.event.id)).toEqual([events[0]!.id, events[2]!.id]);

    const letters = await readValues(kafka, 'shop.orders.dlq', 2);
    expect(letters).toContain('{not json');
    expect(letters.map((l) => (l.startsWith('{"') ? (JSON.parse(l) as { id: string }).id : l))).toContain(poison.id);
  });

  it('with eventTypes, records of other known types are skipped unparsed; a record naming an unknown type is still dead-lettered', async () => {
    const { kafka, producer } = await infra.start();
    const rec = recorder();
    await infra.consumer(kafka, producer, { eventTypes: ['OrderCancellationRequested'], handle: rec.handle });
    const wanted = cancellation('ord-5');
    // A known type the group does not handle, with a body that would not even parse: skipped, not dead-lettered.
    await producer.sendRecords!('shop.orders', [{ key: 'ord-5', value: 'not json at all', headers: { 'x-event-type': 'OrderStatusChanged' } }]);
    await producer.sendRecords!('shop.orders', [{ key: 'ord-5', value: 'garbage', headers: { 'x-event-type': 'NoSuchType' } }]);
    await producer.publish([statusChange('ord-5', 1), wanted]);
    await waitFor('the wanted record', () => rec.seen.length === 1);
    expect(rec.ids()).toEqual([wanted.id]);

    expect(await readValues(kafka, 'shop.orders.dlq', 1)).toEqual(['garbage']);
  });

  it('a handler retried after a failure publishes only what its successful attempt emitted', async () => {
    const { kafka, producer } = await infra.start();
    let attempts = 0;
    await infra.consumer(kafka, producer, {
      handle: async (event, ctx) => {
        if (event.type !== 'OrderCancellationRequested') return 'ignored';
        attempts++;
        ctx.emit(createEvent('PaymentDeclined', { orderId: event.payload.orderId, reason: `attempt ${attempts}` }, { key: event.key, correlationId: 'c' }));
        if (attempts === 1) throw new EventError('flaky', { retriable: true });
        return 'ok';
      },
    });
    await producer.publish(cancellation('ord-9'));
    const answers = await readValues(kafka, 'shop.payments', 1);
    expect(answers.map((a) => (JSON.parse(a) as { payload: { reason: string } }).payload.reason)).toEqual(['attempt 2']);
  });

  it('a batch killed (SIGKILL) after its Redis writes and before publishing and committing: redelivered, every effect once', async () => {
    const { kafka, producer } = await infra.start();
    const redis = infra.redis.client;
    const groupId = 'g-crash';
    const orders = Array.from({ length: 30 }, (_, i) => `ord-${i}`);
    const events = orders.map((o) => cancellation(o));
    await producer.publish(events);

    let child: Child | undefined;
    try {
      child = spawnTs(resolve(import.meta.dirname, 'fixtures/dies-before-publish.ts'), [kafka.broker.address, infra.redis.url, groupId]);
      await child.waitForLine(/"ev":"publishing"/, 30_000);
      // Given the handlers' Redis writes are done and nothing was published or committed,
      expect(Number(await redis.scard(effectKeys.applied))).toBeGreaterThan(0);
      expect(await redis.scard(effectKeys.pushed)).toBe(0);
    } finally {
      // when the process dies right there,
      await killChild(child);
    }

    // then the group's next member gets the records again,
    await infra.consumer(kafka, producer, { groupId, handle: effectHandler(redis) });
    await waitFor('every push', async () => (await redis.scard(effectKeys.pushed)) === events.length, 40_000);
    // and every effect happened once: each change applied once, each answer published once, each push made.
    for (const o of orders) expect(await redis.get(effectKeys.count(o)), o).toBe('1');
    const admin = kafka.kafka.admin();
    await admin.connect();
    const answers = (await admin.fetchTopicOffsets('shop.payments')).reduce((sum, p) => sum + Number(p.high), 0);
    await admin.disconnect();
    expect(answers).toBe(events.length);
  }, 90_000);
});
