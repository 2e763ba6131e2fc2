import { describe, expect, it } from 'vitest';
import { EventContractError, parseEvent } from '../../src/index.js';
import { orderPlaced, rawEnvelope } from './fixtures.js';

function contractError(raw: unknown): EventContractError {
  try {
    parseEvent(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(EventContractError);
    expect((err as EventContractError).retriable).toBe(false);
    return err as EventContractError;
  }
  throw new Error('expected parseEvent to throw');
}

describe('parseEvent', () => {
  it('parses a Buffer, a string and decoded JSON into the same typed event', () => {
    const json = JSON.stringify(rawEnvelope());
    const fromBuffer = parseEvent(Buffer.from(json));
    expect(fromBuffer).toEqual(parseEvent(json));
    expect(fromBuffer).toEqual(parseEvent(JSON.parse(json)));
    expect(fromBuffer.type).toBe('OrderPlaced');
    if (fromBuffer.type !== 'OrderPlaced') throw new Error('narrowing');
    expect(fromBuffer.payload.lines[0]?.quantity).toBe(2);
  });

  it('strips fields the schema does not know (a tolerant reader of additive changes)', () => {
    const event = parseEvent(rawEnvelope({ payload: { ...orderPlaced, giftWrap: true } }));
    expect(event.payload).not.toHaveProperty('giftWrap');
  });

  it('rejects a value that is not JSON, naming it', () => {
    const err = contractError(Buffer.from('{"id": nope'));
    expect(err.message).toMatch(/^record value is not JSON/);
    expect(err.message).toContain('{\\"id\\": nope');
  });

  it('rejects an empty record value', () => {
    expect(contractError(null).message).toBe('empty record value (no event)');
  });

  it('rejects an envelope with a missing or malformed field, naming the field', () => {
    const { correlationId: _, ...withoutCorrelation } = rawEnvelope();
    const missing = contractError(withoutCorrelation);
    expect(missing.message).toMatch(/^invalid event envelope \(OrderPlaced\): correlationId: /);
    expect(missing.path).toBe('correlationId');

    const badTime = contractError(rawEnvelope({ occurredAt: '2026-01-01 10:00' }));
    expect(badTime.message).toContain('occurredAt: Invalid ISO datetime');

    expect(contractError([1, 2]).message).toMatch(/^invalid event envelope: \(root\): /);
  });

  it('rejects an unknown type and an unknown version', () => {
    const unknownType = contractError(rawEnvelope({ type: 'OrderShipped' }));
    expect(unknownType.message).toMatch(/^unknown event type "OrderShipped" \(known: OrderPlaced, /);
    expect(unknownType.eventType).toBe('OrderShipped');

    const unknownVersion = contractError(rawEnvelope({ version: 2 }));
    expect(unknownVersion.message).toBe('OrderPlaced has no version 2 (known: 1..1)');
    expect(unknownVersion).toMatchObject({ eventType: 'OrderPlaced', eventVersion: 2, path: 'version' });
  });

  it('rejects a payload that fails its version schema, naming type, version and field', () => {
    const err = contractError(
      rawEnvelope({ payload: { ...orderPlaced, lines: [{ ...orderPlaced.lines[0], quantity: 0 }], total: { amount: 1, currency: 'EUR' } } }),
    );
    expect(err.message).toMatch(/^invalid OrderPlaced v1 payload: payload\.lines\.0\.quantity: Too small/);
    expect(err.message).toContain('payload.total.currency: Invalid input: expected "USD"');
    expect(err).toMatchObject({ eventType: 'OrderPlaced', eventVersion: 1, path: 'payload.lines.0.quantity' });
  });

  it('lists at most five issues', () => {
    const err = contractError(rawEnvelope({ payload: {} }));
    expect(err.message).toMatch(/; and 2 more$/);
  });
});
