import { createEvent, deterministicEventId, type AnyEvent, type OrderStatus } from '@shop/events';
import type { Money, StatusChange } from './read-model.js';

/** What the saga needs to know of an order to decide: the read model's order with its history and causes. */
export interface OrderState {
  readonly id: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  /** The last history sequence (1 = PENDING). */
  readonly sequence: number;
  readonly total: Money;
  readonly paymentToken: string;
  readonly history: readonly StatusChange[];
  /** `causeKey(event id, to status)` → the sequence that transition got: how a redelivery is recognised. */
  readonly causes: ReadonlyMap<string, number>;
}

/** The events the saga reacts to (its consumer skips the others unparsed). */
export const SAGA_EVENT_TYPES = ['StockReserved', 'StockReservationRejected', 'PaymentAuthorized', 'PaymentDeclined', 'OrderCancellationRequested'] as const;
/** The saga's events that answer its own steps (on shop.inventory and shop.payments). */
export const SAGA_ANSWER_EVENT_TYPES = ['StockReserved', 'StockReservationRejected', 'PaymentAuthorized', 'PaymentDeclined'] as const satisfies readonly (typeof SAGA_EVENT_TYPES)[number][];
/** The saga's events that ask to stop an order (on shop.orders). */
export const CANCELLATION_EVENT_TYPES = ['OrderCancellationRequested'] as const satisfies readonly (typeof SAGA_EVENT_TYPES)[number][];
export type SagaEvent = Extract<AnyEvent, { type: (typeof SAGA_EVENT_TYPES)[number] }>;
export type PaymentRequest = Extract<AnyEvent, { type: 'PaymentAuthorizationRequested' }>;
export type PaymentAnswer = Extract<AnyEvent, { type: 'PaymentAuthorized' | 'PaymentDeclined' }>;

export type Decision =
  /** Not an event the saga reacts to. */
  | { readonly kind: 'ignore' }
  /** The order is not in the read model (yet). */
  | { readonly kind: 'missing' }
  /** No step of the event is allowed from the order's status. */
  | { readonly kind: 'rejected'; readonly current: OrderStatus }
  /**
   * `changes` are the new history entries to store (none when the event was already applied); `events` what
   * to publish: every change the event caused, new or found already applied (a redelivery publishes the same
   * events again, with the same ids), and the commands that follow from them.
   */
  | { readonly kind: 'decided'; readonly changes: readonly StatusChange[]; readonly causes: readonly string[]; readonly events: readonly AnyEvent[] };

interface Step {
  readonly to: OrderStatus;
  readonly from: readonly OrderStatus[];
  readonly reason: string | null;
}

/** Cause key of a transition: the same event moving to the same status applies once. */
export const causeKey = (eventId: string, to: OrderStatus): string => `${eventId}:${to}`;

/** The event id of an order's change number `sequence`: a re-publish after a crash carries the same id. */
export const statusChangedEventId = (orderId: string, sequence: number): string => deterministicEventId('OrderStatusChanged', orderId, String(sequence));

export const isSagaEvent = (event: AnyEvent): event is SagaEvent => (SAGA_EVENT_TYPES as readonly string[]).includes(event.type);

/** The order state machine: which steps each event asks for, in order, each from the statuses it may leave. */
function stepsOf(event: SagaEvent): readonly Step[] {
  switch (event.type) {
    case 'StockReserved':
      return [{ to: 'INVENTORY_RESERVED', from: ['PENDING'], reason: null }];
    case 'StockReservationRejected':
      return [{ to: 'REJECTED', from: ['PENDING'], reason: event.payload.reason }];
    case 'PaymentAuthorized':
      return [
        { to: 'PAYMENT_AUTHORIZED', from: ['INVENTORY_RESERVED'], reason: null },
        { to: 'CONFIRMED', from: ['PAYMENT_AUTHORIZED'], reason: null },
      ];
    case 'PaymentDeclined':
      return [{ to: 'CANCELLED', from: ['PENDING', 'INVENTORY_RESERVED'], reason: `payment declined: ${event.payload.reason}` }];
    case 'OrderCancellationRequested':
      return [{ to: 'CANCELLED', from: ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED'], reason: event.payload.reason }];
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/** The state after a change. */
export function evolve(state: OrderState, change: StatusChange): OrderState {
  return { ...state, status: change.status, sequence: change.sequence, history: [...state.history, change] };
}

/**
 * The saga's one decision: given the order as stored and an event, which changes to store and which events
 * to publish. Pure: `at` is the time the changes carry.
 *
 * The changes the event builds on that another event caused are published again first, with their own ids:
 * the replica that decided them stores before it publishes, so another replica (a cancellation, a payment
 * answer, on another partition) can decide on top of them before they are in Kafka; without the copies the
 * log would then hold a change before the one it follows, and a rebuild from it would stop there. Consumers
 * take the copy or the original, whichever comes first, by event id; the projector and subscribers by sequence.
 */
export function decide(state: OrderState | null, event: AnyEvent, at: string): Decision {
  const decision = decideSteps(state, event, at);
  if (decision.kind !== 'decided' || !state) return decision;
  const first = decision.events.find((e) => e.type === 'OrderStatusChanged');
  const builtOn = first?.type === 'OrderStatusChanged' ? precedingChanges(state, first.payload.sequence) : [];
  if (builtOn.length === 0) return decision;
  return { ...decision, events: [...builtOn.map((b) => statusChangedEvent(state, b.change, { correlationId: event.correlationId, causationId: b.causedBy })), ...decision.events] };
}

/** `decide` without the copies of the changes it builds on: the steps `event` asks for and the events they cause. */
function decideSteps(state: OrderState | null, event: AnyEvent, at: string): Decision {
  if (!isSagaEvent(event)) return { kind: 'ignore' };
  if (!state) return { kind: 'missing' };
  let current = state;
  const caused: StatusChange[] = [];
  const changes: StatusChange[] = [];
  const causes: string[] = [];
  for (const step of stepsOf(event)) {
    const cause = causeKey(event.id, step.to);
    const applied = state.causes.get(cause);
    const earlier = applied === undefined ? undefined : state.history[applied - 1];
    if (earlier) {
      caused.push(earlier);
      continue;
    }
    if (!step.from.includes(current.status)) continue;
    const change: StatusChange = { orderId: state.id, sequence: current.sequence + 1, status: step.to, previous: current.status, reason: step.reason, at };
    caused.push(change);
    changes.push(change);
    causes.push(cause);
    current = evolve(current, change);
  }
  if (caused.length === 0) return { kind: 'rejected', current: state.status };
  return { kind: 'decided', changes, causes, events: caused.flatMap((change) => eventsOf(state, change, event)) };
}

/**
 * The changes right before change `sequence` that one other event caused together (its decision's changes), with
 * that event's id; none before change 2 (change 1 is the order placed, published before it was stored).
 */
function precedingChanges(state: OrderState, sequence: number): { change: StatusChange; causedBy: string | null }[] {
  const causedBy = new Map<number, string>();
  for (const [cause, seq] of state.causes) causedBy.set(seq, cause.slice(0, cause.lastIndexOf(':')));
  const out: { change: StatusChange; causedBy: string | null }[] = [];
  const last = causedBy.get(sequence - 1);
  for (let seq = sequence - 1; seq >= 2; seq--) {
    const change = state.history[seq - 1];
    if (!change || (out.length > 0 && (last === undefined || causedBy.get(seq) !== last))) break;
    out.unshift({ change, causedBy: last ?? null });
  }
  return out;
}

/** The payment a decision asks for, if any. */
export function paymentRequestOf(decision: Decision): PaymentRequest | undefined {
  if (decision.kind !== 'decided') return undefined;
  return decision.events.find((e): e is PaymentRequest => e.type === 'PaymentAuthorizationRequested');
}

/**
 * A decision that asked for a payment, completed with the provider's answer obtained within the same step: the
 * answer's changes follow the first decision's in one decision, and the request is not published (nobody else
 * has to act on it). The answer's event is not published either: the changes it caused say what it was, and the
 * saga is the only one that reacts to it. An answer the order can no longer take (it moved on) leaves the first
 * decision as it was, request included, as if the answer had come through the payment worker.
 */
export function decideWithAnswer(state: OrderState, first: Decision, answer: PaymentAnswer, at: string): Decision {
  if (first.kind !== 'decided' || !paymentRequestOf(first)) return first;
  const causes = new Map(state.causes);
  first.causes.forEach((cause, i) => causes.set(cause, first.changes[i]!.sequence));
  const after: OrderState = { ...first.changes.reduce(evolve, state), causes };
  // The first decision's events already publish what the answer builds on.
  const then = decideSteps(after, answer, at);
  if (then.kind !== 'decided') return first;
  return {
    kind: 'decided',
    changes: [...first.changes, ...then.changes],
    causes: [...first.causes, ...then.causes],
    events: [...first.events.filter((e) => e.type !== 'PaymentAuthorizationRequested'), ...then.events],
  };
}

/** The event of one change; its id is the change's, so every publish of it (again, or a copy) is the same event. */
function statusChangedEvent(state: OrderState, change: StatusChange, meta: { correlationId: string; causationId: string | null }): AnyEvent {
  return createEvent(
    'OrderStatusChanged',
    {
      orderId: state.id,
      customerId: state.customerId,
      sequence: change.sequence,
      status: change.status,
      previous: change.previous,
      reason: change.reason,
      at: change.at,
    },
    // occurredAt is the change's time, so a redelivery re-publishes byte-for-byte the same events.
    { key: state.id, ...meta, occurredAt: change.at, id: statusChangedEventId(state.id, change.sequence) },
  );
}

/** What one change publishes: the change itself, and the payment request when stock is reserved. */
function eventsOf(state: OrderState, change: StatusChange, cause: SagaEvent): AnyEvent[] {
  const meta = { key: state.id, correlationId: cause.correlationId, causationId: cause.id, occurredAt: change.at };
  const events: AnyEvent[] = [statusChangedEvent(state, change, { correlationId: cause.correlationId, causationId: cause.id })];
  if (change.status === 'INVENTORY_RESERVED') {
    events.push(
      createEvent(
        'PaymentAuthorizationRequested',
        { orderId: state.id, customerId: state.customerId, amount: { amount: state.total.amount, currency: 'USD' }, paymentToken: state.paymentToken },
        { ...meta, id: deterministicEventId('PaymentAuthorizationRequested', state.id) },
      ),
    );
  }
  return events;
}
