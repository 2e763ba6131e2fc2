import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { gql } from 'graphql-tag';
import type { Logger } from 'pino';
import { TOPICS, type AnyEvent } from '@shop/events';
import { PROJECTION_FETCH, startConsumer, type ConsumerRunner } from '@shop/events/kafka';
import { instrumentHandler } from '@shop/service-kit';
import { startSubgraphService, type SubgraphService } from '@shop/service-kit/subgraph';
import type { OrdersConfig } from './config.js';
import { createOrderLoaders } from './loaders.js';
import { CANCELLATION_EVENT_TYPES, SAGA_ANSWER_EVENT_TYPES } from './order-decider.js';
import { createOrderSaga } from './order-saga.js';
import { OrderStateCache } from './order-state-cache.js';
import { createPaymentWorker, PAYMENT_WORKER_TYPES } from './payment-worker.js';
import { createSimulatedPaymentProvider, type PaymentProvider } from './payment-provider.js';
import { createOrdersProjector, ORDERS_PROJECTED_TYPES } from './projector.js';
import { createOrderStore } from './read-model.js';
import { createOrdersResolvers, type OrdersContext } from './resolvers.js';
import { startSagaDeadlines } from './saga-deadline.js';

/**
 * Consumer groups of the orders service, each reading only the topics it acts on. A group fetching at once is
 * woken by every record of its topics, and a wake-up costs more than the handling of a skipped record: the saga's
 * answers come from shop.inventory and shop.payments (which carries only the payments the provider did not answer
 * within the saga's own step), while shop.orders (four records an order, none of which the saga needs at once) is
 * read every 100 ms, by one group for everything done there, as every record a group reads is fetched and decoded
 * once per group.
 */
export const ORDERS_GROUPS = {
  /**
   * Every 100 ms: the read model and catalog projection, and the order state machine on cancellation requests
   * (customers' and saga deadlines').
   */
  projector: 'orders-projector',
  /** The order state machine, on inventory's answers and the payment worker's. */
  saga: 'orders-saga',
  /** The payment worker: payments the provider did not answer within the saga's step. */
  payments: 'orders-payments',
} as const;

const isCancellation = (e: AnyEvent) => (CANCELLATION_EVENT_TYPES as readonly string[]).includes(e.type);

export const ordersTypeDefs = gql(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export interface StartOrdersOptions {
  readonly logger?: Logger;
  readonly paymentProvider?: PaymentProvider;
  /** Consumer group session timeout (tests use less); default the runner's. */
  readonly sessionTimeoutMs?: number;
}

export type OrdersService = SubgraphService;

export function startOrdersService(config: OrdersConfig, opts: StartOrdersOptions = {}): Promise<OrdersService> {
  const { paymentProvider, ...runtimeOpts } = opts;
  return startSubgraphService<OrdersContext>({
    name: 'orders',
    config,
    ...runtimeOpts,
    async setup({ logger, redis, pubsub, pubsubReconnects, producer, metrics, consumerOptions, onClose }) {
      const store = createOrderStore(redis);
      const projector = createOrdersProjector({ store, logger });
      const payments = createPaymentWorker({
        redis,
        store,
        provider: paymentProvider ?? createSimulatedPaymentProvider(),
        logger,
        timeoutMs: config.paymentTimeoutMs,
      });
      const sagaStates = new OrderStateCache();
      const saga = createOrderSaga({
        store,
        pubsub,
        logger,
        metrics,
        states: sagaStates,
        payments: config.paymentInlineWaitMs > 0 ? { answerWithin: payments.answerWithin, keptAnswer: payments.keptAnswer, waitMs: config.paymentInlineWaitMs } : undefined,
      });

      const consumers: ConsumerRunner[] = await Promise.all([
        startConsumer({
          ...consumerOptions,
          groupId: ORDERS_GROUPS.projector,
          topics: [TOPICS.orders, TOPICS.inventory],
          eventTypes: [...ORDERS_PROJECTED_TYPES, ...CANCELLATION_EVENT_TYPES],
          // placeOrder and the saga write the read model themselves; the projector only catches up behind them.
          // A cancellation waits up to 100 ms more; the saga is spared a wake-up per record of shop.orders.
          ...PROJECTION_FETCH,
          handle: instrumentHandler(metrics, ORDERS_GROUPS.projector, (e, ctx) => (isCancellation(e) ? saga.handle(e, ctx) : projector.project(e))),
        }),
        startConsumer({
          ...consumerOptions,
          groupId: ORDERS_GROUPS.saga,
          topics: [TOPICS.inventory, TOPICS.payments],
          eventTypes: SAGA_ANSWER_EVENT_TYPES,
          handle: instrumentHandler(metrics, ORDERS_GROUPS.saga, (e, ctx) => saga.handle(e, ctx)),
        }),
        startConsumer({
          ...consumerOptions,
          groupId: ORDERS_GROUPS.payments,
          topics: [TOPICS.payments],
          eventTypes: PAYMENT_WORKER_TYPES,
          // A provider that does not answer holds one partition for at most PAYMENT_TIMEOUT_MS, not all of them.
          partitionsConsumedConcurrently: Math.max(config.consumerConcurrency, 6),
          handle: instrumentHandler(metrics, ORDERS_GROUPS.payments, (e, ctx) => payments.handle(e, ctx)),
        }),
      ]);
      onClose(() => Promise.all(consumers.map((c) => c.close())));

      const deadlines = startSagaDeadlines({ store, producer, logger, pollMs: config.sagaDeadlinePollMs });
      onClose(() => deadlines.close());

      return {
        schema: buildSubgraphSchema({
          typeDefs: ordersTypeDefs,
          resolvers: createOrdersResolvers({
            redis,
            store,
            producer,
            pubsub,
            pubsubReconnects,
            logger,
            sagaDeadlineMs: config.sagaDeadlineMs,
            cancelWaitMs: config.cancelWaitMs,
            sagaStates,
          }) as never,
        }),
        context: (base, transport) => ({ ...base, loaders: createOrderLoaders(store, { cache: transport.kind === 'http' }) }),
      };
    },
  });
}
