import type { Logger } from 'pino';
import { EventError, inSpan, SpanKind, withTrace, type AnyEvent } from '@shop/events';
import type { HandleOutcome, HandlerContext } from '@shop/events/kafka';
import type { ChannelPubSub, ServiceMetrics } from '@shop/service-kit';
import { orderChannels } from './keys.js';
import { decide, decideWithAnswer, evolve, isSagaEvent, paymentRequestOf, type OrderState } from './order-decider.js';
import { OrderStateCache } from './order-state-cache.js';
import type { InlineAnswer, PaymentWorker } from './payment-worker.js';
import { isFinal, type OrderStore, type StatusChange } from './read-model.js';

export { statusChangedEventId } from './order-decider.js';

/** How long an event may wait for its order to appear in the read model before it is dead-lettered. */
const MISSING_ORDER_GRACE_MS = 60_000;
/**
 * Decisions retried on a lost race (another replica wrote the order meanwhile) before the consumer's own retry;
 * one more when the first was made on a remembered state.
 */
const MAX_DECIDE_ROUNDS = 6;

/** The state after `changes`, decided for `causes`, are stored. */
function afterStoring(state: OrderState, changes: readonly StatusChange[], causes: readonly string[]): OrderState {
  const next = changes.reduce(evolve, state);
  const all = new Map(state.causes);
  causes.forEach((cause, i) => all.set(cause, changes[i]!.sequence));
  return { ...next, causes: all };
}

export interface OrderSagaDeps {
  readonly store: OrderStore;
  readonly pubsub: ChannelPubSub;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly now?: () => Date;
  /** Shared with placeOrder, which remembers the orders it places; one of the saga's own otherwise. */
  readonly states?: OrderStateCache;
  /**
   * Payments asked while deciding a reservation, waiting at most `waitMs` for the provider; without it (or when
   * the wait runs out) the payment request is published for the payment worker.
   */
  readonly payments?: Pick<PaymentWorker, 'answerWithin' | 'keptAnswer'> & { readonly waitMs: number };
}

/** What the saga needs of the consumer's context: where its events and pushes go. */
export type SagaContext = Pick<HandlerContext, 'emit' | 'afterEmit'>;

/**
 * The order state machine's runner (orders owns it): loads the order, asks the pure `decide`, stores the
 * decided changes in one script (only if the order did not move meanwhile), emits what was decided and pushes
 * each change to the order's pub/sub channel once Kafka has it. A redelivered event finds its changes already
 * stored and publishes the same events again (same ids); consumers dedupe by event id, subscribers by sequence.
 */
export function createOrderSaga(deps: OrderSagaDeps) {
  const now = deps.now ?? (() => new Date());
  const remembered = deps.states ?? new OrderStateCache();
  const payments = deps.payments;

  async function handle(event: AnyEvent, ctx: SagaContext): Promise<HandleOutcome> {
    // Not the saga's event: answered without a Redis round trip.
    if (!isSagaEvent(event)) return 'ignored';
    const { orderId } = event.payload;
    let fromMemory = remembered.get(orderId);
    // Asked of the provider once per delivery, whatever rounds a lost race costs.
    let answer: InlineAnswer | null | undefined;
    // Another answer was kept first (a replica asked too): take that one.
    let answerKeptElsewhere = false;
    for (let round = 1; round <= MAX_DECIDE_ROUNDS; round++) {
      const state = fromMemory ?? (await deps.store.loadState(orderId));
      const at = now().toISOString();
      let decision = decide(state, event, at);
      if (fromMemory) {
        fromMemory = undefined;
        // Only a decision that writes is checked (by the write); anything else is decided again on Redis.
        if (decision.kind !== 'decided' || decision.changes.length === 0) {
          remembered.delete(orderId);
          continue;
        }
      }
      const request = payments && paymentRequestOf(decision);
      let answerToKeep: string | undefined;
      if (payments && request && decision.kind === 'decided') {
        // The provider is asked only while the order waits for its answer at INVENTORY_RESERVED. A redelivered
        // reservation of an order that went on (paid, declined, cancelled) never asks again: the answer kept for
        // it, if any, only derives again the changes it caused, to publish them again.
        const owed = (decision.changes.at(-1)?.status ?? state!.status) === 'INVENTORY_RESERVED';
        let found: InlineAnswer | null;
        if (owed) {
          // A reservation already stored (a redelivery) may have had its answer kept too: looked up first.
          const redelivered = decision.changes.length === 0;
          if (answer === undefined) answer = await payments.answerWithin(request, payments.waitMs, redelivered || answerKeptElsewhere);
          found = answer;
        } else {
          found = await payments.keptAnswer(request);
        }
        const withAnswer = found ? decideWithAnswer(state!, decision, found.event, at) : decision;
        if (withAnswer !== decision) answerToKeep = found?.unkept ?? undefined;
        decision = withAnswer;
      }
      switch (decision.kind) {
        case 'ignore':
          return 'ignored';
        case 'missing': {
          // Only possible when placeOrder crashed between publishing OrderPlaced and writing the read
          // model: the projector writes it soon, so wait (retriable), but not forever.
          const ageMs = now().getTime() - Date.parse(event.occurredAt);
          throw new EventError(`order ${orderId} is not in the read model`, { retriable: ageMs < MISSING_ORDER_GRACE_MS });
        }
        case 'rejected':
          deps.logger.info({ orderId, eventType: event.type, current: decision.current }, 'no transition allowed from the current status, ignored');
          return 'ignored';
        case 'decided': {
          if (decision.changes.length > 0) {
            const transition = { 'shop.order.id': orderId, 'shop.order.from': state!.status, 'shop.order.to': decision.changes.at(-1)!.status, 'shop.event.type': event.type };
            const { changes, causes } = decision;
            const stored = await inSpan('order transition', SpanKind.INTERNAL, transition, () => deps.store.applyChanges(state!.id, state!.sequence, changes, causes, answerToKeep));
            if (stored !== 'stored') remembered.delete(orderId);
            if (stored === 'conflict') continue;
            if (stored === 'other-answer') {
              answer = undefined;
              answerKeptElsewhere = true;
              continue;
            }
            if (stored === 'missing') throw new EventError(`order ${orderId} vanished while deciding`, { retriable: true });
            const after = afterStoring(state!, decision.changes, decision.causes);
            if (isFinal(after.status)) remembered.delete(orderId);
            else remembered.set(after);
            for (const c of decision.changes) deps.metrics.sagaTransitions.inc({ from: c.previous ?? 'none', to: c.status });
          } else {
            deps.logger.info({ orderId, eventType: event.type }, 'already applied, publishing its changes again');
          }
          ctx.emit(decision.events);
          for (const e of decision.events) {
            if (e.type !== 'OrderStatusChanged') continue;
            // Once Kafka has the final change (a deadline left behind would only make the poller ask for a
            // cancellation the saga ignores), and beside the batch's other writes: no round trip of its own.
            if (isFinal(e.payload.status)) ctx.afterEmit(() => deps.store.removeDeadline(orderId));
            const { customerId: _customerId, ...change } = e.payload;
            const channel = orderChannels.orderStatus(change.orderId);
            // The push carries its trace context, so the gateway's push to the client joins the order's trace.
            ctx.afterEmit(() =>
              inSpan('publish order-status', SpanKind.PRODUCER, { 'messaging.system': 'redis', 'shop.order.id': change.orderId, 'shop.order.sequence': change.sequence }, () =>
                deps.pubsub.publish(channel, withTrace(change)),
              ),
            );
          }
          return 'ok';
        }
        default: {
          const _exhaustive: never = decision;
          return _exhaustive;
        }
      }
    }
    throw new EventError(`order ${orderId} kept changing while deciding`, { retriable: true });
  }

  return { handle };
}

