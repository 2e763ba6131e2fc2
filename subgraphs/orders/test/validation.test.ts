import { describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { isOrderId, orderIdForIdempotencyKey, newOrderId } from '../src/ids.js';
import { validatePlaceOrder } from '../src/validation.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return [(err as GraphQLError).extensions?.code, (err as Error).message];
  }
  return null;
};

describe('validatePlaceOrder', () => {
  it('accepts a valid order and normalises it', () => {
    expect(validatePlaceOrder({ lines: [{ productId: 'prd_abc', quantity: 3 }], paymentToken: ' tok_visa ', idempotencyKey: 'k1' })).toEqual({
      lines: [{ productId: 'prd_abc', quantity: 3 }],
      paymentToken: 'tok_visa',
      idempotencyKey: 'k1',
    });
  });
  it.each([
    [{ lines: [] }, /1 to 50 lines, got 0/],
    [{ lines: Array.from({ length: 51 }, (_, i) => ({ productId: `prd_p${i}x`, quantity: 1 })) }, /got 51/],
    [{ lines: [{ productId: 'prd_abc', quantity: 1001 }] }, /Line 1 \(prd_abc\): quantity must be between 1 and 1000, got 1001/],
    [{ lines: [{ productId: 'prd_abc', quantity: 1 }, { productId: 'prd_def', quantity: 1.5 }] }, /Line 2 \(prd_def\)/],
    [{ lines: [{ productId: 'abc', quantity: 1 }] }, /Line 1: malformed product id "abc"/],
    [{ lines: [{ productId: 'prd_abc', quantity: 1 }, { productId: 'prd_abc', quantity: 2 }] }, /Line 2 \(prd_abc\): the product is already on line 1/],
    [{ lines: [{ productId: 'prd_abc', quantity: 1 }], paymentToken: '' }, /paymentToken/],
    [{ lines: [{ productId: 'prd_abc', quantity: 1 }], idempotencyKey: 'has space' }, /idempotencyKey/],
  ])('rejects %j with BAD_USER_INPUT', (input, message) => {
    const r = codeOf(() => validatePlaceOrder({ paymentToken: 'tok_visa', ...input }));
    expect(r?.[0]).toBe('BAD_USER_INPUT');
    expect(r?.[1]).toMatch(message);
  });
});

describe('order ids', () => {
  it('are ord_ + 20+ url-safe characters', () => {
    expect(isOrderId(newOrderId())).toBe(true);
    expect(isOrderId('ord_short')).toBe(false);
    expect(isOrderId('ord_' + 'a'.repeat(19) + '!')).toBe(false);
  });
  it('derive from customer + idempotency key deterministically', () => {
    const a = orderIdForIdempotencyKey('alice', 'k');
    expect(a).toBe(orderIdForIdempotencyKey('alice', 'k'));
    expect(a).not.toBe(orderIdForIdempotencyKey('bob', 'k'));
    expect(a).not.toBe(orderIdForIdempotencyKey('alic', 'ek'));
    expect(isOrderId(a)).toBe(true);
  });
});
