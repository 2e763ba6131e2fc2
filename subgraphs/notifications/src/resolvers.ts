import { badUserInput, decodeCursor, encodeCursor, isAdmin, notFound, pageSize, requireIdentity, type ChannelPubSub, type PubSubReconnects, type RequestIdentity, DateTimeScalar } from '@shop/service-kit';
import { NOTIFICATION_ID, notificationChannels } from './keys.js';
import type { NotificationLoaders } from './loaders.js';
import { liveWithCatchUp } from './notification-stream.js';
import type { NotificationRecord, NotificationStore } from './read-model.js';

export interface NotificationsContext extends RequestIdentity {
  readonly loaders: NotificationLoaders;
}

const CURSOR = 'notification';
const memberId = (member: string): string => member.slice(member.indexOf(':') + 1);
/**
 * How far back, from its start, a subscription looks for notifications pub/sub dropped: a notification is
 * created at its status change and recorded when the consumer gets there, so this bounds the consumer lag
 * a catch-up covers (and what each subscription reads once when it starts).
 */
const CATCH_UP_WINDOW_MS = 120_000;


export function createNotificationsResolvers(deps: { store: NotificationStore; pubsub: ChannelPubSub; pubsubReconnects: PubSubReconnects }) {
  const { store } = deps;
  return {
    DateTime: DateTimeScalar,
    Query: {
      myNotifications: async (_: unknown, args: { first?: number | null; after?: string | null; unreadOnly?: boolean | null }, ctx: NotificationsContext) => {
        const identity = requireIdentity(ctx);
        const n = pageSize(args.first, 20);
        const members = await store.page(identity.sub, args.unreadOnly ?? false, decodeCursor(CURSOR, args.after), n + 1);
        const page = members.slice(0, n);
        const nodes = await store.getMany(page.map(memberId));
        const edges = page.flatMap((member, i) => (nodes[i] ? [{ cursor: encodeCursor(CURSOR, member), node: nodes[i] }] : []));
        return { edges, pageInfo: { hasNextPage: members.length > n, endCursor: page.length ? encodeCursor(CURSOR, page[page.length - 1]!) : null } };
      },
      unreadNotificationCount: (_: unknown, __: unknown, ctx: NotificationsContext) => store.unreadCount(requireIdentity(ctx).sub),
    },
    Mutation: {
      markNotificationRead: async (_: unknown, args: { id: string }, ctx: NotificationsContext) => {
        const identity = requireIdentity(ctx);
        if (!NOTIFICATION_ID.test(args.id)) throw badUserInput(`id: malformed notification id ${JSON.stringify(args.id.length > 40 ? `${args.id.slice(0, 40)}…` : args.id)} (expected ntf_…).`, { field: 'id' });
        const n = await store.get(args.id);
        // Someone else's notification answers as a missing one: no answer tells which ids exist.
        if (!n || n.customerId !== identity.sub) throw notFound(`Notification ${args.id} does not exist.`);
        if (!n.read) await store.markRead(n);
        return { ...n, read: true };
      },
    },
    Subscription: {
      notificationAdded: {
        subscribe: (_: unknown, __: unknown, ctx: NotificationsContext) => {
          const customerId = requireIdentity(ctx).sub;
          const since = Date.now() - CATCH_UP_WINDOW_MS;
          return liveWithCatchUp<NotificationRecord>({
            subscribe: async (push) => {
              const subId = await deps.pubsub.subscribe<NotificationRecord>(notificationChannels.customer(customerId), push);
              return () => deps.pubsub.unsubscribe(subId);
            },
            existing: () => store.idsSince(customerId, since),
            recent: () => store.since(customerId, since),
            idOf: (n) => n.id,
            onLiveResumed: (listener) => deps.pubsubReconnects.onResubscribed(listener),
          });
        },
        resolve: (n: NotificationRecord) => n,
      },
    },
    Order: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      notifications: async (order: { id: string }, _: unknown, ctx: NotificationsContext) => {
        const identity = requireIdentity(ctx);
        const list = await ctx.loaders.byOrder.load(order.id);
        return list.filter((n) => n.customerId === identity.sub || isAdmin(identity));
      },
    },
  };
}
