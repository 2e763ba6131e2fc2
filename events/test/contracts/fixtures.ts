import type { PayloadOf } from '../../src/contracts/index.js';

/** A valid OrderPlaced v1 payload; tests break one field at a time. */
export const orderPlaced: PayloadOf<'OrderPlaced'> = {
  orderId: 'ord-1',
  customerId: 'cus-1',
  lines: [{ productId: 'p-1', quantity: 2, unitPrice: { amount: 1250, currency: 'USD' } }],
  total: { amount: 2500, currency: 'USD' },
  paymentToken: 'tok_visa',
  idempotencyKey: null,
  deadlineAt: '2026-01-01T00:00:30.000Z',
};

export const meta = { key: 'ord-1', correlationId: 'corr-1', occurredAt: '2026-01-01T00:00:00.000Z' };

/** A raw envelope as it would sit in a record value. */
export function rawEnvelope(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    type: 'OrderPlaced',
    version: 1,
    occurredAt: '2026-01-01T00:00:00.000Z',
    correlationId: 'corr-1',
    causationId: null,
    key: 'ord-1',
    payload: orderPlaced,
    ...overrides,
  };
}
