import { describe, expect, it } from 'vitest';
import { createEvent } from '../../src/contracts/index.js';
import { toRecord } from '../../src/kafka/producer.js';
import { headersToStrings } from '../../src/kafka/headers.js';

describe('event → Kafka record', () => {
  it('keys by event.key, carries the envelope as JSON and its ids as headers', () => {
    const event = createEvent('PaymentDeclined', { orderId: 'ord-9', reason: 'insufficient funds' }, { key: 'ord-9', correlationId: 'corr-9', causationId: 'evt-8', id: 'evt-9' });
    const record = toRecord(event);
    expect(record.key).toBe('ord-9');
    expect(JSON.parse(record.value as string)).toEqual(event);
    expect(record.headers).toEqual({
      'x-event-id': 'evt-9',
      'x-event-type': 'PaymentDeclined',
      'x-event-version': '1',
      'x-correlation-id': 'corr-9',
      'x-causation-id': 'evt-8',
    });
  });

  it('omits x-causation-id for a root event', () => {
    const event = createEvent('PaymentDeclined', { orderId: 'o', reason: 'r' }, { key: 'o', correlationId: 'c' });
    expect(toRecord(event).headers).not.toHaveProperty('x-causation-id');
  });

  it('reads kafkajs headers as strings (first of a repeated header)', () => {
    expect(headersToStrings({ a: Buffer.from('1'), b: 'two', c: [Buffer.from('x'), Buffer.from('y')], d: undefined })).toEqual({ a: '1', b: 'two', c: 'x' });
    expect(headersToStrings(undefined)).toEqual({});
  });
});
