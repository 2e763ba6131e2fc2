import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createEvent, deterministicEventId, TRACE_FIELD, type OrderStatus, type RedisClient as Redis } from '@shop/events';
import type { EventProducer } from '@shop/events/kafka';
import {
  appError,
  badUserInput,
  conflict,
  decodeCursor,
  encodeCursor,
  ErrorCode,
  notFound,
  ownsOrAdmin,
  pageSize,
  requireAdmin,
  requireIdentity,
  type Identity,
  type ChannelPubSub,
  type PubSubReconnects,
  type RequestIdentity,
  DateTimeScalar,
} from '@shop/service-kit';
import { newOrderId, orderIdForIdempotencyKey } from './ids.js';
import { orderChannels, orderKeys } from './keys.js';
import type { OrderLoaders } from './loaders.js';
import type { OrderStateCache } from './order-state-cache.js';
import { replayThenLive } from './order-status-stream.js';
import { isFinal, pendingOrder, placedState, type NewOrder, type OrderLine, type OrderRecord, type OrderStore, type StatusChange } from './read-model.js';
import { assertOrderId, validatePlaceOrder, type PlaceOrderInput } from './validation.js';

export interface OrdersContext extends RequestIdentity {
  readonly loaders: OrderLoaders;
}

export interface OrdersResolverDeps {
  readonly redis: Redis;
  readonly store: OrderStore;
  readonly producer: EventProducer;
  readonly pubsub: ChannelPubSub;
  /** When pub/sub is back after a drop, each live status stream reads the history it may have missed. */
  readonly pubsubReconnects: PubSubReconnects;
  readonly logger: Logger;
  readonly sagaDeadlineMs: number;
  readonly cancelWaitMs: number;
  /** The saga's remembered states: a placed order's is known here, so its first saga step needs no read. */
  readonly sagaStates?: OrderStateCache;
}

/** How long a placeOrder holds its idempotency-key claim while publishing. */
const CLAIM_TTL_MS = 15_000;
const ORDER_CURSOR = 'order';


const memberOrderId = (member: string): string => member.slice(member.indexOf(':') + 1);

/**
 * Another customer's order is, to the caller, exactly a missing one (docs/api.md): the same `null`, the
 * same NOT_FOUND with the same message, so no answer tells which order ids exist.
 */
function visible(identity: Identity, order: OrderRecord | null | undefined): OrderRecord | null {
  return order && ownsOrAdmin(identity, order.customerId) ? order : null;
}
const noSuchOrder = (id: string) => notFound(`Order ${id} does not exist.`);

async function loadVisibleOrder(ctx: OrdersContext, id: string): Promise<OrderRecord | null> {
  const identity = requireIdentity(ctx);
  assertOrderId(id);
  return visible(identity, await ctx.loaders.order.load(id));
}

export function createOrdersResolvers(deps: OrdersResolverDeps) {
  const { store, producer, redis } = deps;

  async function connection(ctx: OrdersContext, customerId: string | null, first: number | null | undefined, after: string | null | undefined, status: OrderStatus | null) {
    const n = pageSize(first, 20);
    let cursor = decodeCursor(ORDER_CURSOR, after);
    const picked: { member: string; order: OrderRecord }[] = [];
    // Without a status filter one page read is enough; with one, read on (bounded) until n+1 match.
    for (let scanned = 0; picked.length <= n && scanned < 10_000; ) {
      const members = await store.page(customerId, cursor, status ? 200 : n + 1);
      if (members.length === 0) break;
      scanned += members.length;
      const orders = await ctx.loaders.order.loadMany(members.map(memberOrderId));
      members.forEach((member, i) => {
        const order = orders[i];
        if (order && !(order instanceof Error) && (!status || order.status === status)) picked.push({ member, order });
      });
      cursor = members[members.length - 1]!;
      if (!status) break;
    }
    const page = picked.slice(0, n);
    return {
      edges: page.map(({ member, order }) => ({ cursor: encodeCursor(ORDER_CURSOR, member), node: order })),
      pageInfo: { hasNextPage: picked.length > n, endCursor: page.length ? encodeCursor(ORDER_CURSOR, page[page.length - 1]!.member) : null },
    };
  }

  async function placeOrder(ctx: OrdersContext, input: PlaceOrderInput): Promise<{ order: OrderRecord }> {
    const identity = requireIdentity(ctx);
    const valid = validatePlaceOrder(input);
    const orderId = valid.idempotencyKey ? orderIdForIdempotencyKey(identity.sub, valid.idempotencyKey) : newOrderId();
    const claimKey = orderKeys.claim(orderId);
    // The prices, a retry's order and the claim on its key in one round trip (auto-pipelined): a round trip
    // before the order reaches Kafka is one the client waits for. A claim taken for an order that already
    // exists is never read (the order is found first) and expires.
    const [catalogRead, existingRead, claimRead] = await Promise.allSettled([
      store.catalog(valid.lines.map((l) => l.productId)),
      valid.idempotencyKey ? store.get(orderId) : null,
      valid.idempotencyKey ? redis.set(claimKey, ctx.correlationId, 'PX', CLAIM_TTL_MS, 'NX') : 'OK',
    ]);
    const claimed = claimRead.status === 'fulfilled' ? claimRead.value : null;
    // A refused or failed request leaves nothing behind, not even a claim that would hold up its retry.
    const giveBackClaim = async () => {
      if (valid.idempotencyKey && claimed === 'OK') await redis.del(claimKey).catch(() => undefined);
    };
    if (catalogRead.status === 'rejected' || existingRead.status === 'rejected' || claimRead.status === 'rejected') {
      await giveBackClaim();
      throw [catalogRead, existingRead, claimRead].find((r) => r.status === 'rejected')!.reason;
    }
    const catalog = catalogRead.value;
    const existing = existingRead.value;
    const missing = valid.lines.findIndex((_, i) => !catalog[i]);
    if (missing >= 0) {
      if (!existing) await giveBackClaim();
      throw badUserInput(`Line ${missing + 1}: unknown product ${valid.lines[missing]!.productId}.`, { field: `lines[${missing}].productId` });
    }
    const lines: OrderLine[] = valid.lines.map((line, i) => ({ productId: line.productId, quantity: line.quantity, unitPrice: catalog[i]!.price }));
    const total = { amount: lines.reduce((sum, l) => sum + l.unitPrice.amount * l.quantity, 0), currency: 'USD' as const };

    if (existing) return { order: existing };
    if (claimed !== 'OK') {
      // Another request with the same key is publishing right now: answer with its order.
      for (const started = Date.now(); Date.now() - started < 5_000; await sleep(50)) {
        const order = await store.get(orderId);
        if (order) return { order };
      }
      throw conflict('An order with this idempotency key is being placed right now; retry shortly.');
    }

    const now = new Date();
    const createdAt = now.toISOString();
    const deadlineAt = new Date(now.getTime() + deps.sagaDeadlineMs).toISOString();
    const event = createEvent(
      'OrderPlaced',
      {
        orderId,
        customerId: identity.sub,
        lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity, unitPrice: { amount: l.unitPrice.amount, currency: 'USD' as const } })),
        total,
        paymentToken: valid.paymentToken,
        idempotencyKey: valid.idempotencyKey,
        deadlineAt,
      },
      { key: orderId, correlationId: ctx.correlationId, causationId: null, id: deterministicEventId('OrderPlaced', orderId), occurredAt: createdAt },
    );
    try {
      // Publish FIRST (acks=-1): an order that is not in Kafka must not exist anywhere.
      await producer.publish(event);
    } catch (err) {
      deps.logger.error({ err, orderId }, 'publishing OrderPlaced failed; no order was created');
      await giveBackClaim();
      throw appError(ErrorCode.INTERNAL_SERVER_ERROR, 'The order could not be placed right now; nothing was charged or reserved. Try again.');
    }
    // Then the read model; the projector writes the same thing idempotently if we crash here.
    const placed: NewOrder = { id: orderId, customerId: identity.sub, lines, total, paymentToken: valid.paymentToken, createdAt, deadlineAt, idempotencyKey: valid.idempotencyKey };
    // Written now: the answer is what was written. Otherwise the projector was first: read it back.
    const written = await store.place(placed);
    if (written) deps.sagaStates?.set(placedState(placed));
    const order = written ? pendingOrder(placed) : await store.get(orderId);
    if (!order) throw new Error(`order ${orderId} vanished right after it was written`);
    // The answer is the order as placed: the saga may already have moved it on, and the client follows
    // that through orderStatusChanged (docs/api.md: placeOrder "returns at once with status PENDING").
    return { order: { ...order, status: 'PENDING', sequence: 1, updatedAt: order.createdAt } };
  }

  async function cancelOrder(ctx: OrdersContext, id: string): Promise<OrderRecord> {
    const identity = requireIdentity(ctx);
    assertOrderId(id);
    const order = visible(identity, await store.get(id));
    if (!order) throw noSuchOrder(id);
    if (isFinal(order.status)) throw conflict(`Order ${id} is ${order.status}; only an order that is not final can be cancelled.`);
    const reason = identity.sub === order.customerId ? 'cancelled by the customer' : 'cancelled by an admin';
    await producer.publish(
      createEvent('OrderCancellationRequested', { orderId: id, requestedBy: identity.sub, reason }, { key: id, correlationId: ctx.correlationId, causationId: null }),
    );
    const started = Date.now();
    let current: OrderRecord | null = order;
    while (current && !isFinal(current.status) && Date.now() - started < deps.cancelWaitMs) {
      await sleep(50);
      current = await store.get(id);
    }
    return current ?? order;
  }

  return {
    DateTime: DateTimeScalar,
    Query: {
      order: (_: unknown, args: { id: string }, ctx: OrdersContext) => loadVisibleOrder(ctx, args.id),
      myOrders: (_: unknown, args: { first?: number | null; after?: string | null }, ctx: OrdersContext) =>
        connection(ctx, requireIdentity(ctx).sub, args.first, args.after, null),
      orders: (_: unknown, args: { first?: number | null; after?: string | null; status?: OrderStatus | null }, ctx: OrdersContext) => {
        requireAdmin(ctx);
        return connection(ctx, null, args.first, args.after, args.status ?? null);
      },
    },
    Mutation: {
      placeOrder: (_: unknown, args: { input: PlaceOrderInput }, ctx: OrdersContext) => placeOrder(ctx, args.input),
      cancelOrder: (_: unknown, args: { id: string }, ctx: OrdersContext) => cancelOrder(ctx, args.id),
    },
    Subscription: {
      orderStatusChanged: {
        subscribe: async (_: unknown, args: { orderId: string; after?: number | null }, ctx: OrdersContext) => {
          const identity = requireIdentity(ctx);
          assertOrderId(args.orderId, 'orderId');
          const after = args.after ?? null;
          if (after !== null && after < 0) throw badUserInput(`after must be 0 or more, got ${after}.`);
          // Live first (replay-then-live), then the order and its history in one round trip: the owner check
          // and the first replay share it. Live changes wait in `early` until the stream takes them.
          const early: StatusChange[] = [];
          let pushLive: ((c: StatusChange) => void) | undefined;
          const subId = await deps.pubsub.subscribe<StatusChange>(orderChannels.orderStatus(args.orderId), (c) => (pushLive ? pushLive(c) : early.push(c)));
          let order: OrderRecord | null;
          let firstHistory: StatusChange[] | undefined;
          try {
            const [found, history] = await Promise.all([store.get(args.orderId), store.history(args.orderId)]);
            order = visible(identity, found);
            firstHistory = history;
          } catch (err) {
            deps.pubsub.unsubscribe(subId);
            throw err;
          }
          if (!order) {
            deps.pubsub.unsubscribe(subId);
            throw noSuchOrder(args.orderId);
          }
          const { trace } = order;
          // Replayed changes are pushed in the order's trace, like the live ones (which carry it themselves).
          const inOrderTrace = (h: StatusChange): StatusChange => (trace ? ({ ...h, [TRACE_FIELD]: trace } as StatusChange) : h);
          const stream = replayThenLive<StatusChange>({
            subscribe: async (push) => {
              pushLive = push;
              for (const c of early.splice(0)) push(c);
              return () => deps.pubsub.unsubscribe(subId);
            },
            history: async () => {
              // The first replay was read with the order, after the subscription was live.
              const history = firstHistory ?? (await store.history(args.orderId));
              firstHistory = undefined;
              return history.map(inOrderTrace);
            },
            sequenceOf: (c) => c.sequence,
            after,
            onLiveResumed: (listener) => deps.pubsubReconnects.onResubscribed(listener),
          });
          // The stream wires its sources on its first next(); one ended before that still lets the channel go.
          const end = stream.return!.bind(stream);
          stream.return = (value?: unknown) => {
            deps.pubsub.unsubscribe(subId);
            return end(value);
          };
          return stream;
        },
        resolve: (change: StatusChange) => change,
      },
    },
    Order: {
      __resolveReference: async (ref: { id: string }, ctx: OrdersContext) => visible(requireIdentity(ctx), await ctx.loaders.order.load(ref.id)),
      lines: (order: OrderRecord) =>
        order.lines.map((l) => ({ product: { __typename: 'Product', id: l.productId }, quantity: l.quantity, unitPrice: l.unitPrice })),
      history: (order: OrderRecord, _: unknown, ctx: OrdersContext) => ctx.loaders.history.load(order.id),
    },
    OrderStatusChange: {
      // Its own owner check: a change is reached through an order today, but whatever reaches it tomorrow
      // (a new field, an entity reference) must not hand out the order without one.
      order: async (change: StatusChange, _: unknown, ctx: OrdersContext) => {
        const order = visible(requireIdentity(ctx), await ctx.loaders.order.load(change.orderId));
        if (!order) throw noSuchOrder(change.orderId);
        return order;
      },
    },
  };
}
