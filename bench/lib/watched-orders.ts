import { randomBytes } from 'node:crypto';
import type { Pool } from 'undici';
import { describeError, PLACE, Subscriber, type WsPool } from '../../test/chaos/harness.js';
import { postJson } from './load.js';

/** A customer with its development token; each has its own graphql-ws connection. */
export interface Customer {
  readonly name: string;
  readonly token: string;
}

/** One order of the benchmark, from the moment it was due to its final status on the subscription. */
export interface WatchedOrder {
  /** When the open-loop schedule said to send it (Date.now() clock): latency counts from here. */
  readonly scheduledAt: number;
  answeredAt?: number;
  orderId?: string;
  /** Why placeOrder did not give an order id. */
  error?: string;
  subscriber?: Subscriber;
}

interface PlaceAnswer {
  data?: { placeOrder?: { order?: { id: string } } } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Not answered, or answered and not final yet. */
export const isUnfinished = (o: WatchedOrder) => (o.answeredAt === undefined ? true : !!o.subscriber && !o.subscriber.isDone);

export const finalStatusOf = (o: WatchedOrder): string | undefined => {
  if (!o.subscriber?.finalAt) return undefined;
  return o.subscriber.record.segments.flatMap((s) => s.events).at(-1)?.status;
};

/** Sent → final status seen by the client. */
export const clientMsOf = (o: WatchedOrder): number | undefined => (o.subscriber?.finalAt !== undefined ? o.subscriber.finalAt - o.scheduledAt : undefined);

/** The saga's own time: the PENDING change's `at` to the final change's `at`, both stamped by the orders subgraph. */
export function sagaMsOf(o: WatchedOrder): number | undefined {
  if (!o.subscriber?.finalAt) return undefined;
  const events = o.subscriber.record.segments.flatMap((s) => s.events);
  const pending = events.find((e) => e.status === 'PENDING')?.at;
  const final = events.at(-1)?.at;
  return pending !== undefined && final !== undefined ? final - pending : undefined;
}

/**
 * Places orders through the gateway (HTTP, one keep-alive pool) and watches each on its own
 * `orderStatusChanged(orderId, after: 0)` subscription over its customer's connection, with the
 * web demo's selection (the chaos harness's `WATCH`), resuming like the web demo if a socket drops.
 */
export class OrderPlacer {
  private readonly runId = randomBytes(3).toString('hex');
  private placed = 0;

  constructor(
    private readonly gatewayUrl: string,
    private readonly http: Pool,
    private readonly ws: WsPool,
    private readonly customers: readonly Customer[],
    private readonly productIds: readonly string[],
    private readonly paymentToken = 'tok_visa',
  ) {}

  /** Places the next order (customers and products round-robin) and starts watching it; resolves once placeOrder is answered. */
  async place(scheduledAt: number, into: WatchedOrder[]): Promise<WatchedOrder> {
    const n = this.placed++;
    const customer = this.customers[n % this.customers.length]!;
    const order: WatchedOrder = { scheduledAt };
    into.push(order);
    const input = { lines: [{ productId: this.productIds[n % this.productIds.length]!, quantity: 1 }], paymentToken: this.paymentToken, idempotencyKey: `saga-bench-${this.runId}-${n}` };
    try {
      const r = await postJson<PlaceAnswer>(this.http, new URL(this.gatewayUrl).pathname, JSON.stringify({ query: PLACE, variables: { input } }), {
        authorization: `Bearer ${customer.token}`,
      });
      const id = r.data?.placeOrder?.order?.id;
      if (id) {
        order.orderId = id;
        order.subscriber = new Subscriber(this.ws, 1, id, customer.name, customer.token, 0, `o${n}`);
      } else {
        order.error = `${r.errors?.[0]?.extensions?.code ?? 'NO_CODE'}: ${r.errors?.[0]?.message ?? 'no order in the answer'}`.slice(0, 120);
      }
    } catch (err) {
      order.error = describeError(err).slice(0, 120);
    } finally {
      order.answeredAt = Date.now();
    }
    return order;
  }
}
