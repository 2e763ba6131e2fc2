import type { RedisPubSub } from 'graphql-redis-subscriptions';
import { badUserInput, decodeCursor, encodeCursor, isAdmin, notFound, pageSize, requireIdentity, type RequestIdentity, DateTimeScalar } from '@shop/service-kit';
import { NOTIFICATION_ID, notificationChannels } from './keys.js';
import type { NotificationLoaders } from './loaders.js';
import type { NotificationRecord, NotificationStore } from './read-model.js';

export interface NotificationsContext extends RequestIdentity {
  readonly loaders: NotificationLoaders;
}

const CURSOR = 'notification';
const memberId = (member: string): string => member.slice(member.indexOf(':') + 1);


export function createNotificationsResolvers(deps: { store: NotificationStore; pubsub: RedisPubSub }) {
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
        subscribe: (_: unknown, __: unknown, ctx: NotificationsContext) =>
          deps.pubsub.asyncIterableIterator(notificationChannels.customer(requireIdentity(ctx).sub)),
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
