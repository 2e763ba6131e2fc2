import { describe, expect, it } from 'vitest';
import { EventContractError, TOPICS, createEvent, deterministicEventId, parseEvent, topicOf, type PayloadOf } from '../../src/index.js';
import { meta, orderPlaced } from './fixtures.js';

describe('createEvent', () => {
  it('builds a frozen envelope at the latest version that parseEvent reads back', () => {
    const event = createEvent('OrderPlaced', orderPlaced, { ...meta, causationId: 'cmd-1', id: 'evt-1' });
    expect(event).toEqual({
      id: 'evt-1',
      type: 'OrderPlaced',
      version: 1,
      occurredAt: meta.occurredAt,
      correlationId: 'corr-1',
      causationId: 'cmd-1',
      key: 'ord-1',
      payload: orderPlaced,
    });
    expect(Object.isFrozen(event)).toBe(true);
    expect(parseEvent(JSON.stringify(event))).toEqual(event);
  });

  it('defaults id to a random UUID, occurredAt to now and causationId to null', () => {
    const a = createEvent('PaymentAuthorized', { orderId: 'o', authorizationId: 'auth' }, { key: 'o', correlationId: 'c' });
    const b = createEvent('PaymentAuthorized', { orderId: 'o', authorizationId: 'auth' }, { key: 'o', correlationId: 'c' });
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.id).not.toBe(b.id);
    expect(Date.now() - Date.parse(a.occurredAt)).toBeLessThan(5_000);
    expect(a.causationId).toBeNull();
  });

  it('throws EventContractError naming the field of an invalid payload', () => {
    const bad = { ...orderPlaced, lines: [] } as PayloadOf<'OrderPlaced'>;
    expect(() => createEvent('OrderPlaced', bad, meta)).toThrowError(EventContractError);
    expect(() => createEvent('OrderPlaced', bad, meta)).toThrowError(/^invalid OrderPlaced v1 payload: payload\.lines: Too small/);
  });

  it('throws on invalid metadata (empty correlation id, non-UTC time)', () => {
    expect(() => createEvent('OrderPlaced', orderPlaced, { ...meta, correlationId: '' })).toThrowError(/^invalid OrderPlaced metadata: correlationId: /);
    expect(() => createEvent('OrderPlaced', orderPlaced, { ...meta, occurredAt: '2026-01-01T00:00:00+02:00' })).toThrowError(
      /occurredAt: Invalid ISO datetime/,
    );
  });

  it('refuses a key other than the aggregate id (it would break per-aggregate order)', () => {
    expect(() => createEvent('OrderPlaced', orderPlaced, { ...meta, key: 'cus-1' })).toThrowError(
      'OrderPlaced must be keyed by payload.orderId ("ord-1"), got key "cus-1"',
    );
    const registered = { productId: 'p-1', name: 'Kettle', description: '', price: { amount: 1, currency: 'USD' as const }, initialStock: 1 };
    expect(createEvent('ProductRegistered', registered, { key: 'p-1', correlationId: 'c' }).key).toBe('p-1');
  });

  it('routes every event type to its aggregate topic', () => {
    expect(topicOf('OrderStatusChanged')).toBe(TOPICS.orders);
    expect(topicOf('PaymentDeclined')).toBe(TOPICS.payments);
    expect(topicOf('ProductRegistered')).toBe(TOPICS.inventory);
    expect(topicOf('StockCommitted')).toBe(TOPICS.inventory);
  });
});

describe('deterministicEventId', () => {
  it('is stable: the same parts give the same id, across runs (pinned value)', () => {
    expect(deterministicEventId('StockReserved', 'ord-1')).toBe(deterministicEventId('StockReserved', 'ord-1'));
    expect(deterministicEventId('StockReserved', 'ord-1')).toBe('b4be1fb7-7ee0-8204-acaf-30b4176f98dc');
  });

  it('is UUID-shaped (version 8, RFC variant) and differs with any part', () => {
    const id = deterministicEventId('a', 'b');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicEventId('a', 'c')).not.toBe(id);
    expect(deterministicEventId('b', 'a')).not.toBe(id);
  });

  it('does not confuse how the parts are split', () => {
    expect(deterministicEventId('ab', 'c')).not.toBe(deterministicEventId('a', 'bc'));
    expect(deterministicEventId('a:b')).not.toBe(deterministicEventId('a', 'b'));
  });

  it('needs at least one part', () => {
    expect(() => deterministicEventId()).toThrowError(TypeError);
  });
});
