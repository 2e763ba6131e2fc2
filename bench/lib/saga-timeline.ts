import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer } from 'kafkajs';
import { ALL_TOPICS, HEADERS } from '@shop/events';
import { distribution, type Distribution } from './report.js';
import type { WatchedOrder } from './watched-orders.js';

/** One record of an order's saga: its event type, the status it set (OrderStatusChanged) and the producer's timestamp. */
interface TimelineRecord {
  readonly type: string;
  readonly status: string | undefined;
  readonly at: number;
}

/**
 * Reads every record of the shop's topics as they are written (its own consumer group, a fetch that waits for
 * 1 MiB or 2 s, so it wakes the broker rarely) and keeps, per order id, the event types with their
 * timestamps. That splits the time from placeOrder to the final status into the saga's hops.
 */
export interface SagaTimeline {
  /** Waits until every record written so far has been read (up to `withinMs`). */
  catchUp(withinMs?: number): Promise<boolean>;
  /** Median milliseconds of each stage, over the orders given (those whose records were all read). */
  stages(orders: readonly WatchedOrder[]): Record<string, Distribution>;
  close(): Promise<void>;
}

/** The stages of a confirmed order, each from one moment to the next. */
export const STAGES = [
  'send → OrderPlaced written',
  'OrderPlaced → placeOrder answered',
  'OrderPlaced → StockReserved',
  // The saga's step: the reservation stored, the payment asked of the provider and the order confirmed.
  'StockReserved → CONFIRMED written',
  'CONFIRMED written → seen by the client',
] as const;

const GROUP_PREFIX = 'bench-saga-timeline-';

/** The timeline's own consumer group, which commits nothing: not part of the system's lag. */
export const isTimelineGroup = (groupId: string) => groupId.startsWith(GROUP_PREFIX);

export async function startSagaTimeline(brokers: string): Promise<SagaTimeline> {
  const kafka = new Kafka({ clientId: 'bench-saga-timeline', brokers: brokers.split(','), logLevel: logLevel.NOTHING, connectionTimeout: 3_000 });
  const admin: Admin = kafka.admin();
  await admin.connect();
  const consumer: Consumer = kafka.consumer({ groupId: `${GROUP_PREFIX}${randomBytes(4).toString('hex')}`, minBytes: 1 << 20, maxWaitTimeInMs: 2_000 });
  await consumer.connect();
  const topics = ALL_TOPICS.filter((t) => !t.includes('.dlq'));
  await consumer.subscribe({ topics, fromBeginning: false });
  const byOrder = new Map<string, TimelineRecord[]>();
  /** Next offset to read, per `topic:partition`. */
  const next = new Map<string, number>();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const key = m.key?.toString();
        const type = m.headers?.[HEADERS.eventType]?.toString();
        if (!key || !type) continue;
        let status: string | undefined;
        if (type === 'OrderStatusChanged') status = (JSON.parse(m.value!.toString()) as { payload: { status: string } }).payload.status;
        let list = byOrder.get(key);
        if (!list) byOrder.set(key, (list = []));
        list.push({ type, status, at: Number(m.timestamp) });
      }
      next.set(`${batch.topic}:${batch.partition}`, Number(batch.lastOffset()) + 1);
    },
  });

  const caughtUp = async () => {
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = Number(p.high);
        if (high > Number(p.low) && (next.get(`${topic}:${p.partition}`) ?? -1) < high) return false;
      }
    }
    return true;
  };

  return {
    async catchUp(withinMs = 10_000) {
      const until = Date.now() + withinMs;
      while (Date.now() < until) {
        if (await caughtUp()) return true;
        await new Promise((r) => setTimeout(r, 200));
      }
      return false;
    },
    stages(orders) {
      const values: number[][] = STAGES.map(() => []);
      for (const o of orders) {
        const records = o.orderId ? byOrder.get(o.orderId) : undefined;
        const seen = o.subscriber?.finalAt;
        if (!records || seen === undefined || o.answeredAt === undefined) continue;
        const first = (type: string, status?: string) => records.find((r) => r.type === type && (status === undefined || r.status === status))?.at;
        const placed = first('OrderPlaced');
        const reserved = first('StockReserved');
        const confirmed = first('OrderStatusChanged', 'CONFIRMED');
        const moments = [o.scheduledAt, placed, o.answeredAt, reserved, confirmed, seen];
        if (moments.some((m) => m === undefined)) continue;
        const [sent, p, answered, r, c, s] = moments as number[];
        [p! - sent!, answered! - p!, r! - p!, c! - r!, s! - c!].forEach((v, i) => values[i]!.push(v));
      }
      return Object.fromEntries(STAGES.map((name, i) => [name, distribution(values[i]!)]));
    },
    async close() {
      await consumer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}
