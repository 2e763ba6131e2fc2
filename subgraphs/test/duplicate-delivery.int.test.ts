/**
 * At-least-once, taken literally: 1,000 orders in flight while every record on every event topic is delivered
 * twice (a copy of each is written back to its partition as it arrives). The end state must be exactly what
 * single delivery gives: every order final with the statuses its payment token decides, gapless histories with
 * no extra transition, stock conserved, one notification per final order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import { TOPICS } from '@shop/events';
import { inventoryKeys } from '../inventory/src/keys.js';
import { notificationKeys } from '../notifications/src/keys.js';
import { orderKeys } from '../orders/src/keys.js';
import { gql, startTestSystem, waitFor, PLACE_ORDER, type TestSystem } from './harness.js';

const COPY_HEADER = 'x-test-copy';
const ORDERS = 1_000;
const PRODUCTS = ['prd_dup-a', 'prd_dup-b', 'prd_dup-c'];
const STOCK = 5_000;

let sys: TestSystem;
let duplicator: Consumer;
let copies = 0;
beforeAll(async () => {
  sys = await startTestSystem({ sagaDeadlineMs: 300_000 });
  for (const p of PRODUCTS) await sys.registerProduct(p, STOCK, 500);
  duplicator = sys.kafka.consumer({ groupId: 'test-duplicator', maxWaitTimeInMs: 50 });
  await duplicator.connect();
  await duplicator.subscribe({ topics: [TOPICS.orders, TOPICS.inventory, TOPICS.payments], fromBeginning: false });
  await duplicator.run({
    eachBatch: async ({ batch }) => {
      const originals = batch.messages.filter((m) => !m.headers?.[COPY_HEADER]);
      if (originals.length === 0) return;
      await sys.producer.sendRecords!(
        batch.topic,
        originals.map((m) => ({ key: m.key, value: m.value, headers: { ...m.headers, [COPY_HEADER]: '1' } })),
      );
      copies += originals.length;
    },
  });
}, 120_000);
afterAll(async () => {
  await duplicator?.disconnect();
  await sys?.close();
});

async function statuses(ids: readonly string[]): Promise<string[]> {
  const pipeline = sys.redis.pipeline();
  for (const id of ids) pipeline.hget(orderKeys.order(id), 'status');
  return ((await pipeline.exec()) ?? []).map(([, v]) => v as string);
}

describe('every record delivered twice', () => {
  it('1,000 orders end exactly as with single delivery', async () => {
    const placed: { id: string; token: string; productId: string }[] = [];
    for (let start = 0; start < ORDERS; start += 50) {
      const chunk = await Promise.all(
        Array.from({ length: Math.min(50, ORDERS - start) }, async (_, j) => {
          const i = start + j;
          const token = i % 5 === 0 ? 'tok_declined' : 'tok_visa';
          const productId = PRODUCTS[i % PRODUCTS.length]!;
          const r = await gql(sys.orders.url, PLACE_ORDER, { input: { lines: [{ productId, quantity: 1 }], paymentToken: token } }, { sub: `dup-${i % 37}` });
          expect(r.errors).toBeUndefined();
          return { id: (r.data as { placeOrder: { order: { id: string } } }).placeOrder.order.id, token, productId };
        }),
      );
      placed.push(...chunk);
    }
    const ids = placed.map((p) => p.id);
    const final = await waitFor(
      'every order final',
      async () => {
        const s = await statuses(ids);
        return s.every((x) => x === 'CONFIRMED' || x === 'CANCELLED' || x === 'REJECTED') ? s : null;
      },
      180_000,
      200,
    );
    // Let the copies of the last records and their effects run too: wait until every group has read everything.
    const admin = sys.kafka.admin();
    await admin.connect();
    await waitFor(
      'no consumer lag',
      async () => {
        for (const topic of [TOPICS.orders, TOPICS.inventory, TOPICS.payments]) {
          const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
          for (const groupId of ['orders-projector', 'orders-saga', 'orders-payments', 'inventory', 'inventory-catalog', 'notifications']) {
            const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] }).catch(() => []);
            if (!committed) continue;
            for (const p of committed.partitions) if (Number(p.offset) >= 0 && Number(p.offset) < high.get(p.partition)!) return false;
          }
        }
        return true;
      },
      60_000,
      500,
    );
    await admin.disconnect();
    expect(copies).toBeGreaterThan(ORDERS * 5);

    placed.forEach((p, i) => expect(final[i], p.id).toBe(p.token === 'tok_visa' ? 'CONFIRMED' : 'CANCELLED'));
    const histories = await Promise.all(ids.map((id) => sys.redis.lrange(orderKeys.history(id), 0, -1)));
    placed.forEach((p, i) => {
      const statusesSeen = histories[i]!.map((e) => (JSON.parse(e) as { status: string }).status);
      expect(statusesSeen, p.id).toEqual(
        p.token === 'tok_visa' ? ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED'] : ['PENDING', 'INVENTORY_RESERVED', 'CANCELLED'],
      );
      expect(histories[i]!.map((e) => (JSON.parse(e) as { sequence: number }).sequence)).toEqual(statusesSeen.map((_, s) => s + 1));
    });
    for (const productId of PRODUCTS) {
      const ordered = placed.filter((p) => p.productId === productId && p.token === 'tok_visa').length;
      const stock = await sys.redis.hmget(inventoryKeys.product(productId), 'available', 'reserved', 'sold');
      expect(stock.map(Number), productId).toEqual([STOCK - ordered, 0, ordered]);
    }
    const notified = await Promise.all(ids.map((id) => sys.redis.zcard(notificationKeys.byOrder(id))));
    expect(notified).toEqual(ids.map(() => 1));
  }, 400_000);
});
