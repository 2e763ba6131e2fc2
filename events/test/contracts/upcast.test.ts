import { describe, expect, it } from 'vitest';
import { EventContractError, latestVersion, parseEvent } from '../../src/index.js';
import { upcastProductRegisteredV1 } from '../../src/contracts/inventory.js';
import { rawEnvelope } from './fixtures.js';

const v1 = { productId: 'p-1', name: 'Kettle', priceCents: 3999, initialStock: 12 };

describe('ProductRegistered v1 → v2', () => {
  it('given a v1 event, when parsed, then it is the latest version with USD price and empty description', () => {
    expect(latestVersion('ProductRegistered')).toBe(2);
    const event = parseEvent(rawEnvelope({ type: 'ProductRegistered', version: 1, key: 'p-1', payload: v1 }));
    expect(event).toMatchObject({ type: 'ProductRegistered', version: 2, key: 'p-1' });
    expect(event.payload).toEqual({
      productId: 'p-1',
      name: 'Kettle',
      description: '',
      price: { amount: 3999, currency: 'USD' },
      initialStock: 12,
    });
  });

  it('the upcaster alone maps every v1 field', () => {
    expect(upcastProductRegisteredV1(v1)).toEqual({
      productId: 'p-1',
      name: 'Kettle',
      description: '',
      price: { amount: 3999, currency: 'USD' },
      initialStock: 12,
    });
  });

  it('a v2 event passes through unchanged', () => {
    const v2 = { productId: 'p-2', name: 'Mug', description: 'Blue', price: { amount: 800, currency: 'USD' }, initialStock: 3 };
    const event = parseEvent(rawEnvelope({ type: 'ProductRegistered', version: 2, key: 'p-2', payload: v2 }));
    expect(event.payload).toEqual(v2);
  });

  it('a v1 payload is checked against the v1 schema, not the v2 one', () => {
    const bad = parseEventError(rawEnvelope({ type: 'ProductRegistered', version: 1, payload: { ...v1, priceCents: -1 } }));
    expect(bad.message).toMatch(/^invalid ProductRegistered v1 payload: payload\.priceCents: /);
    expect(bad.eventVersion).toBe(1);
    // v2 shape sent as v1: v1 requires priceCents
    const v2AsV1 = parseEventError(
      rawEnvelope({ type: 'ProductRegistered', version: 1, payload: { productId: 'p', name: 'n', description: '', price: { amount: 1, currency: 'USD' }, initialStock: 1 } }),
    );
    expect(v2AsV1.path).toBe('payload.priceCents');
  });
});

function parseEventError(raw: unknown): EventContractError {
  try {
    parseEvent(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(EventContractError);
    return err as EventContractError;
  }
  throw new Error('expected parseEvent to throw');
}
