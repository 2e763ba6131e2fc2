import type { OrderState } from './order-decider.js';

/**
 * The states the saga last stored, by order, so the next event of an order (payment after reservation) is
 * decided without reading it back: a Redis round trip less per saga step. A remembered state may be stale
 * (another replica or group moved the order, Redis lost writes), so it is trusted only for a decision that
 * writes, and the write checks the sequence and status it was decided on; any other decision is made again on
 * what Redis holds. Bounded: the oldest entries go first, and a final order's state is dropped at once.
 */
export class OrderStateCache {
  private readonly states = new Map<string, OrderState>();

  constructor(private readonly limit = 10_000) {}

  get(orderId: string): OrderState | undefined {
    return this.states.get(orderId);
  }

  set(state: OrderState): void {
    this.states.delete(state.id);
    this.states.set(state.id, state);
    if (this.states.size > this.limit) this.states.delete(this.states.keys().next().value!);
  }

  delete(orderId: string): void {
    this.states.delete(orderId);
  }

  get size(): number {
    return this.states.size;
  }
}
