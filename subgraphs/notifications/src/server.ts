import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { gql } from 'graphql-tag';
import type { Logger } from 'pino';
import { TOPICS } from '@shop/events';
import { PROJECTION_FETCH, startConsumer } from '@shop/events/kafka';
import { instrumentHandler } from '@shop/service-kit';
import { startSubgraphService, type SubgraphService } from '@shop/service-kit/subgraph';
import type { NotificationsConfig } from './config.js';
import { createNotificationLoaders } from './loaders.js';
import { createNotificationHandler, NOTIFICATION_SOURCE_TYPES, notifies } from './notification-handler.js';
import { createNotificationsProjector } from './projector.js';
import { createNotificationStore } from './read-model.js';
import { createNotificationsResolvers, type NotificationsContext } from './resolvers.js';

export const NOTIFICATIONS_GROUP = 'notifications';

export const notificationsTypeDefs = gql(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export interface StartNotificationsOptions {
  readonly logger?: Logger;
  readonly sessionTimeoutMs?: number;
}

export type NotificationsService = SubgraphService;

export function startNotificationsService(config: NotificationsConfig, opts: StartNotificationsOptions = {}): Promise<NotificationsService> {
  return startSubgraphService<NotificationsContext>({
    name: 'notifications',
    config,
    ...opts,
    async setup({ redis, pubsub, pubsubReconnects, metrics, consumerOptions, onClose }) {
      const store = createNotificationStore(redis);
      const projector = createNotificationsProjector({ store });
      const handler = createNotificationHandler({ projector, pubsub });
      const consumer = await startConsumer({
        ...consumerOptions,
        groupId: NOTIFICATIONS_GROUP,
        topics: [TOPICS.orders],
        eventTypes: NOTIFICATION_SOURCE_TYPES,
        accepts: notifies,
        ...PROJECTION_FETCH,
        handle: instrumentHandler(metrics, NOTIFICATIONS_GROUP, (e, ctx) => handler.handle(e, ctx)),
      });
      onClose(() => consumer.close());

      return {
        schema: buildSubgraphSchema({ typeDefs: notificationsTypeDefs, resolvers: createNotificationsResolvers({ store, pubsub, pubsubReconnects }) as never }),
        context: (base, transport) => ({ ...base, loaders: createNotificationLoaders(store, { cache: transport.kind === 'http' }) }),
      };
    },
  });
}
