import { describe, expect, it } from 'vitest';
import { buildDeadLetter, buildRedrive, decodeDeadLetter, errorText } from '../../src/kafka/dead-letter-record.js';
import { EventContractError, EventError } from '../../src/errors.js';

const original = {
  key: Buffer.from('ord-1'),
  value: Buffer.from([0xff, 0x00, 0x7b]), // not even UTF-8: must survive byte for byte
  headers: { 'x-correlation-id': Buffer.from('corr-1'), 'x-event-type': Buffer.from('OrderPlaced') },
};
const source = { topic: 'shop.orders', partition: 3, offset: '41', groupId: 'inventory' };
const failedAt = new Date('2026-01-01T00:00:00.000Z');

describe('dead-letter records', () => {
  it('keep the original key, bytes and headers, and add where and why it failed', () => {
    const dl = buildDeadLetter(original, source, new EventContractError('bad payload'), 0, failedAt);
    expect(dl.key).toBe(original.key);
    expect(dl.value).toBe(original.value);
    expect(dl.headers).toEqual({
      ...original.headers,
      'x-dlq-error': 'EventContractError: bad payload',
      'x-dlq-source-topic': 'shop.orders',
      'x-dlq-source-partition': '3',
      'x-dlq-source-offset': '41',
      'x-dlq-consumer-group': 'inventory',
      'x-dlq-failed-at': '2026-01-01T00:00:00.000Z',
      'x-dlq-attempts': '0',
    });
  });

  it('a record that fails again after a re-drive gets fresh x-dlq headers, not a second set', () => {
    const first = buildDeadLetter(original, source, new Error('one'), 5, failedAt);
    const redriven = buildRedrive({ key: first.key as Buffer, value: first.value as Buffer, headers: first.headers }, { topic: 'shop.orders.dlq', partition: 1, offset: '7' });
    expect(redriven.headers).toEqual({ ...original.headers, 'x-redriven-from': 'shop.orders.dlq:1:7' });
    expect(redriven.value).toBe(original.value);
    const second = buildDeadLetter({ key: original.key, value: original.value, headers: redriven.headers! }, { ...source, offset: '99' }, new Error('two'), 5, failedAt);
    expect(second.headers).toMatchObject({ 'x-dlq-error': 'Error: two', 'x-dlq-source-offset': '99' });
    expect(second.headers).not.toHaveProperty('x-redriven-from');
  });

  it('decodes a dead letter for listing, with the event type from headers or body', () => {
    const dl = buildDeadLetter({ ...original, headers: {}, value: Buffer.from('{"type":"OrderPlaced","id":"e-1"}') }, source, new Error('x'), 2, failedAt);
    const decoded = decodeDeadLetter('shop.orders.dlq', 4, {
      key: dl.key as Buffer,
      value: dl.value as Buffer,
      headers: dl.headers!,
      offset: '12',
      timestamp: '0',
      attributes: 0,
    });
    expect(decoded).toMatchObject({
      dlqTopic: 'shop.orders.dlq',
      partition: 4,
      offset: '12',
      sourceTopic: 'shop.orders',
      sourcePartition: 3,
      sourceOffset: '41',
      consumerGroup: 'inventory',
      error: 'Error: x',
      failedAt: '2026-01-01T00:00:00.000Z',
      attempts: 2,
      eventType: 'OrderPlaced',
      eventId: 'e-1',
      key: 'ord-1',
    });
    const garbage = decodeDeadLetter('shop.orders.dlq', 0, { key: null, value: Buffer.from('%%%'), headers: {}, offset: '0', timestamp: '0', attributes: 0 });
    expect(garbage).toMatchObject({ eventType: null, eventId: null, key: null, sourceTopic: 'shop.orders', error: '(no x-dlq-error header)' });
  });

  it('error text names the cause and fits in a header', () => {
    expect(errorText(new EventError('publish failed', { retriable: true, cause: new Error('ECONNREFUSED') }))).toBe(
      'EventError: publish failed (cause: Error: ECONNREFUSED)',
    );
    expect(errorText('plain')).toBe('plain');
    expect(errorText(new Error('x'.repeat(5_000)))).toHaveLength(2_000);
  });
});
