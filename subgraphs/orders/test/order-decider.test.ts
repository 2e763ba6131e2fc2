/** The order state machine as given (the stored order) / when (an event) / then (changes and events). */
import { describe, expect, it } from 'vitest';
import { createEvent, type AnyEvent, type OrderStatus } from '@shop/events';
import { causeKey, decide, decideWithAnswer, evolve, paymentRequestOf, statusChangedEventId, type Decision, type OrderState } from '../src/order-decider.js';
import type { StatusChange } from '../src/read-model.js';

const orderId = 'ord_decider0000000000000001';
const placedAt = '2026-01-01T00:00:00.000Z';
const at = '2026-01-01T00:00:05.000Z';
const meta = { key: orderId, correlationId: 'corr-1' };

const events = {
  reserved: () => createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_a', quantity: 1 }] }, meta),
  rejected: () => createEvent('StockReservationRejected', { orderId, reason: 'not enough stock', productId: 'prd_a' }, meta),
  authorized: () => createEvent('PaymentAuthorized', { orderId, authorizationId: 'auth_1' }, meta),
  declined: () => createEvent('PaymentDeclined', { orderId, reason: 'card declined' }, meta),
  cancel: () => createEvent('OrderCancellationRequested', { orderId, requestedBy: 'alice', reason: 'changed my mind' }, meta),
};

/** Given: a PENDING order, then each event in `history` applied through decide/evolve. */
function given(...history: AnyEvent[]): OrderState {
  let state: OrderState = {
    id: orderId,
    customerId: 'alice',
    status: 'PENDING',
    sequence: 1,
    total: { amount: 300, currency: 'USD' },
    paymentToken: 'tok_visa',
    history: [{ orderId, sequence: 1, status: 'PENDING', previous: null, reason: null, at: placedAt }],
    causes: new Map(),
  };
  for (const event of history) {
    const d = decide(state, event, at);
    if (d.kind !== 'decided') throw new Error(`given: ${event.type} was ${d.kind}`);
    const causes = new Map(state.causes);
    d.changes.forEach((c, i) => causes.set(d.causes[i]!, c.sequence));
    state = { ...d.changes.reduce(evolve, state), causes };
  }
  return state;
}

const statuses = (d: Decision) => (d.kind === 'decided' ? d.changes.map((c) => c.status) : d.kind);
const eventTypes = (d: Decision) => (d.kind === 'decided' ? d.events.map((e) => e.type) : []);
const sequencesPublished = (d: Decision) => (d.kind === 'decided' ? d.events.flatMap((e) => (e.type === 'OrderStatusChanged' ? [e.payload.sequence] : [])) : []);

describe('order decider', () => {
  it('PENDING + StockReserved → INVENTORY_RESERVED, and the payment is requested', () => {
    const d = decide(given(), events.reserved(), at);
    expect(statuses(d)).toEqual(['INVENTORY_RESERVED']);
    expect(eventTypes(d)).toEqual(['OrderStatusChanged', 'PaymentAuthorizationRequested']);
    const [changed, request] = d.kind === 'decided' ? d.events : [];
    expect(changed!.payload).toEqual({ orderId, customerId: 'alice', sequence: 2, status: 'INVENTORY_RESERVED', previous: 'PENDING', reason: null, at });
    expect(changed!.id).toBe(statusChangedEventId(orderId, 2));
    expect(request!.payload).toMatchObject({ orderId, amount: { amount: 300, currency: 'USD' }, paymentToken: 'tok_visa' });
  });

  it('INVENTORY_RESERVED + PaymentAuthorized → PAYMENT_AUTHORIZED then CONFIRMED, two changes in one decision', () => {
    const d = decide(given(events.reserved()), events.authorized(), at);
    expect(statuses(d)).toEqual(['PAYMENT_AUTHORIZED', 'CONFIRMED']);
    expect(d.kind === 'decided' && d.changes.map((c) => [c.sequence, c.previous])).toEqual([
      [3, 'INVENTORY_RESERVED'],
      [4, 'PAYMENT_AUTHORIZED'],
    ]);
    // Change 2, which the reservation caused, is published again first (see the next test).
    expect(sequencesPublished(d)).toEqual([2, 3, 4]);
  });

  describe('a decision on top of changes another event caused', () => {
    it('publishes those changes again first, with their ids and causes, and stores only its own', () => {
      const reserved = events.reserved();
      const state = given(reserved);
      const d = decide(state, events.cancel(), at);
      expect(statuses(d)).toEqual(['CANCELLED']);
      expect(sequencesPublished(d)).toEqual([2, 3]);
      const copy = d.kind === 'decided' ? d.events[0]! : undefined;
      expect(copy).toMatchObject({ id: statusChangedEventId(orderId, 2), causationId: reserved.id, payload: state.history[1] });
      expect(eventTypes(d)).toEqual(['OrderStatusChanged', 'OrderStatusChanged']);
    });

    it('publishes only the change it builds on when the one before it came from yet another event, and the same on a redelivery', () => {
      const cancel = events.cancel();
      const authorizedHalf = given(events.reserved(), events.authorized());
      // A cancellation cannot follow CONFIRMED; one that came in while the order was PAYMENT_AUTHORIZED can:
      const paid: OrderState = {
        ...authorizedHalf,
        status: 'PAYMENT_AUTHORIZED',
        sequence: 3,
        history: authorizedHalf.history.slice(0, 3),
        causes: new Map([...authorizedHalf.causes].filter(([, seq]) => seq <= 3)),
      };
      const d = decide(paid, cancel, at);
      expect(statuses(d)).toEqual(['CANCELLED']);
      expect(sequencesPublished(d)).toEqual([3, 4]);
      const stored = { ...evolve(paid, d.kind === 'decided' ? d.changes[0]! : ({} as StatusChange)), causes: new Map([...paid.causes, [causeKey(cancel.id, 'CANCELLED'), 4]]) };
      expect(sequencesPublished(decide(stored, cancel, at))).toEqual([3, 4]);
    });

    it('publishes nothing again when it builds on the order as placed, or on its own changes', () => {
      expect(sequencesPublished(decide(given(), events.reserved(), at))).toEqual([2]);
      expect(sequencesPublished(decideWithAnswer(given(), decide(given(), events.reserved(), at), events.authorized(), at))).toEqual([2, 3, 4]);
    });
  });

  it.each<[string, () => AnyEvent[], () => AnyEvent, OrderStatus | 'rejected', string | null]>([
    ['PENDING + StockReservationRejected → REJECTED', () => [], events.rejected, 'REJECTED', 'not enough stock'],
    ['INVENTORY_RESERVED + PaymentDeclined → CANCELLED', () => [events.reserved()], events.declined, 'CANCELLED', 'payment declined: card declined'],
    ['PENDING + PaymentDeclined → CANCELLED', () => [], events.declined, 'CANCELLED', 'payment declined: card declined'],
    ['PENDING + cancellation → CANCELLED', () => [], events.cancel, 'CANCELLED', 'changed my mind'],
    ['INVENTORY_RESERVED + cancellation → CANCELLED', () => [events.reserved()], events.cancel, 'CANCELLED', 'changed my mind'],
    ['CONFIRMED + cancellation → nothing (final)', () => [events.reserved(), events.authorized()], events.cancel, 'rejected', null],
    ['CANCELLED + PaymentAuthorized → nothing', () => [events.cancel()], events.authorized, 'rejected', null],
    ['INVENTORY_RESERVED + StockReservationRejected → nothing', () => [events.reserved()], events.rejected, 'rejected', null],
    ['REJECTED + StockReserved → nothing', () => [events.rejected()], events.reserved, 'rejected', null],
  ])('%s', (_name, history, when, then, reason) => {
    const d = decide(given(...history()), when(), at);
    if (then === 'rejected') {
      expect(d.kind).toBe('rejected');
      return;
    }
    expect(statuses(d)).toEqual([then]);
    expect(d.kind === 'decided' && d.changes[0]!.reason).toBe(reason);
  });

  it('a redelivered event changes nothing and publishes the same events again', () => {
    const reserved = events.reserved();
    const first = decide(given(), reserved, at);
    const state = given(reserved);
    // A later delivery, with a later clock, of the same event:
    const again = decide(state, reserved, '2026-01-01T00:09:00.000Z');
    expect(again.kind === 'decided' && again.changes).toEqual([]);
    expect(again.kind === 'decided' && again.events).toEqual(first.kind === 'decided' && first.events);
  });

  it('a redelivery after only the first of two steps was stored applies the second', () => {
    const authorized = events.authorized();
    const reserved = given(events.reserved());
    // PAYMENT_AUTHORIZED stored by an older version that wrote the steps one by one, CONFIRMED not yet:
    const change: StatusChange = { orderId, sequence: 3, status: 'PAYMENT_AUTHORIZED', previous: 'INVENTORY_RESERVED', reason: null, at };
    const half = { ...evolve(reserved, change), causes: new Map([...reserved.causes, [causeKey(authorized.id, 'PAYMENT_AUTHORIZED'), 3]]) };
    const d = decide(half, authorized, at);
    expect(statuses(d)).toEqual(['CONFIRMED']);
    // Change 2 (the reservation's) again first, then what this event caused: 3 again and 4.
    expect(sequencesPublished(d)).toEqual([2, 3, 4]);
  });

  it('an order that is not stored is missing; events the saga does not handle are ignored', () => {
    expect(decide(null, events.reserved(), at).kind).toBe('missing');
    const placed = createEvent(
      'OrderPlaced',
      {
        orderId,
        customerId: 'alice',
        lines: [{ productId: 'prd_a', quantity: 1, unitPrice: { amount: 300, currency: 'USD' } }],
        total: { amount: 300, currency: 'USD' },
        paymentToken: 'tok_visa',
        idempotencyKey: null,
        deadlineAt: at,
      },
      meta,
    );
    expect(decide(given(), placed, at).kind).toBe('ignore');
  });

  it('two events in a row decide in order on the evolved state', () => {
    const state = given(events.reserved(), events.authorized());
    expect(state.status).toBe('CONFIRMED');
    expect(state.history.map((h) => h.sequence)).toEqual([1, 2, 3, 4]);
  });

  describe('a payment answered within the reservation step', () => {
    it('PENDING + StockReserved, the provider approves → INVENTORY_RESERVED, PAYMENT_AUTHORIZED, CONFIRMED in one decision; nothing asks the worker', () => {
      const state = given();
      const first = decide(state, events.reserved(), at);
      expect(paymentRequestOf(first)?.payload).toMatchObject({ orderId, paymentToken: 'tok_visa' });
      const d = decideWithAnswer(state, first, events.authorized(), at);
      expect(statuses(d)).toEqual(['INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']);
      expect(d.kind === 'decided' && d.changes.map((c) => [c.sequence, c.previous])).toEqual([
        [2, 'PENDING'],
        [3, 'INVENTORY_RESERVED'],
        [4, 'PAYMENT_AUTHORIZED'],
      ]);
      expect(eventTypes(d)).toEqual(['OrderStatusChanged', 'OrderStatusChanged', 'OrderStatusChanged']);
      expect(paymentRequestOf(d)).toBeUndefined();
    });

    it('PENDING + StockReserved, the provider declines → INVENTORY_RESERVED then CANCELLED with the reason (inventory releases on it)', () => {
      const state = given();
      const d = decideWithAnswer(state, decide(state, events.reserved(), at), events.declined(), at);
      expect(statuses(d)).toEqual(['INVENTORY_RESERVED', 'CANCELLED']);
      expect(d.kind === 'decided' && d.changes[1]!.reason).toBe('payment declined: card declined');
    });

    it('ends where the two steps through the payment worker end, with the same causes', () => {
      const reserved = events.reserved();
      const authorized = events.authorized();
      const state = given();
      const d = decideWithAnswer(state, decide(state, reserved, at), authorized, at);
      const viaWorker = given(reserved, authorized);
      expect(d.kind === 'decided' && d.changes).toEqual(viaWorker.history.slice(1));
      expect(d.kind === 'decided' && d.causes).toEqual([...viaWorker.causes.keys()]);
    });

    it('a redelivery of the reservation with the stored answer changes nothing and publishes all three changes again', () => {
      const reserved = events.reserved();
      const authorized = events.authorized();
      const state = given();
      const firstTime = decideWithAnswer(state, decide(state, reserved, at), authorized, at);
      const stored = given(reserved, authorized);
      const again = decideWithAnswer(stored, decide(stored, reserved, '2026-01-01T00:09:00.000Z'), authorized, '2026-01-01T00:09:00.000Z');
      expect(again.kind === 'decided' && again.changes).toEqual([]);
      expect(again.kind === 'decided' && again.events).toEqual(firstTime.kind === 'decided' && firstTime.events);
    });

    it('an answer the order can no longer take leaves the first decision, request included', () => {
      const reserved = events.reserved();
      const cancelled = given(reserved, events.cancel());
      const first = decide(cancelled, reserved, at);
      expect(decideWithAnswer(cancelled, first, events.authorized(), at)).toBe(first);
      const rejected = decide(given(), events.rejected(), at);
      expect(decideWithAnswer(given(), rejected, events.authorized(), at)).toBe(rejected);
    });
  });
});
