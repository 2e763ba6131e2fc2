import type { Logger } from 'pino';
import { createEvent, deterministicEventId } from '@shop/events';
import type { EventProducer } from '@shop/events/kafka';
import type { OrderStore } from './read-model.js';

export interface SagaDeadlineOptions {
  readonly store: OrderStore;
  readonly producer: EventProducer;
  readonly logger: Logger;
  /** How often to look for due orders. */
  readonly pollMs: number;
  /** How long a claimed order is hidden from other replicas before it may be claimed again. */
  readonly reclaimAfterMs?: number;
  readonly batchSize?: number;
}

export const DEADLINE_REASON = 'saga deadline exceeded';

/**
 * A loop in each orders replica: claims due order ids from every deadline shard (a Lua script per
 * shard moves them to a later score so replicas do not collide), publishes OrderCancellationRequested,
 * then removes them. A duplicate request is harmless: the transition is idempotent and a final order
 * ignores it.
 */
export function startSagaDeadlines(opts: SagaDeadlineOptions): { close(): Promise<void>; tick(): Promise<number> } {
  const reclaimAfterMs = opts.reclaimAfterMs ?? 10_000;
  const batchSize = opts.batchSize ?? 100;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function tick(): Promise<number> {
    const due = await opts.store.claimDue(Date.now(), batchSize, reclaimAfterMs);
    if (due.length === 0) return 0;
    const events = due.map((orderId) =>
      createEvent(
        'OrderCancellationRequested',
        { orderId, requestedBy: 'system', reason: DEADLINE_REASON },
        { key: orderId, correlationId: `deadline-${orderId}`, causationId: null, id: deterministicEventId('SagaDeadline', orderId) },
      ),
    );
    await opts.producer.publish(events);
    await Promise.all(due.map((orderId) => opts.store.removeDeadline(orderId)));
    opts.logger.info({ orderIds: due }, 'saga deadline exceeded, cancellation requested');
    return due.length;
  }

  const loop = () => {
    if (stopped) return;
    running = tick()
      .catch((err: unknown) => opts.logger.warn({ err: (err as Error).message }, 'saga deadline tick failed, retrying'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, opts.pollMs);
      });
  };
  timer = setTimeout(loop, opts.pollMs);

  return {
    tick,
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
