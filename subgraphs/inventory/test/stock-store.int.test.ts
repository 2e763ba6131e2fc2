/** The inventory Lua scripts against a real redis-server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../test/redis-server.js';
import { createStockStore } from '../src/read-model.js';

let server: RedisServer;
let redis: Redis;
let store: ReturnType<typeof createStockStore>;
beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
  store = createStockStore(redis);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const product = (productId: string, initialStock: number) => ({ productId, name: productId, description: '', price: { amount: 100, currency: 'USD' }, initialStock });

describe('stock store', () => {
  it('register is idempotent', async () => {
    expect(await store.register(product('prd_reg', 5))).toBe(true);
    expect(await store.register(product('prd_reg', 50))).toBe(false);
    expect((await store.get('prd_reg'))!.stock).toEqual({ available: 5, reserved: 0, sold: 0 });
  });

  it('100 concurrent reservations for 7 units: never oversold, all-or-nothing across lines', async () => {
    await store.register(product('prd_hot', 7));
    await store.register(product('prd_side', 1000));
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        store.reserve(`ord_c${i}`, [
          { productId: 'prd_side', quantity: 1 },
          { productId: 'prd_hot', quantity: 2 },
        ]),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'reserved')).toHaveLength(3);
    const rejected = outcomes.find((o) => o.status === 'rejected')!;
    expect(rejected.reason).toMatch(/^line 2 \(prd_hot\): not enough stock, 2 requested, 1 available$/);
    expect(rejected.productId).toBe('prd_hot');
    expect((await store.get('prd_hot'))!.stock).toEqual({ available: 1, reserved: 6, sold: 0 });
    expect((await store.get('prd_side'))!.stock).toEqual({ available: 997, reserved: 3, sold: 0 });
  });

  it('reserve is idempotent per order; an unknown product rejects naming the line', async () => {
    await store.register(product('prd_idem', 10));
    const lines = [{ productId: 'prd_idem', quantity: 4 }];
    expect(await store.reserve('ord_i1', lines)).toEqual({ status: 'reserved', reason: null, productId: null });
    expect(await store.reserve('ord_i1', lines)).toEqual({ status: 'reserved', reason: null, productId: null });
    expect((await store.get('prd_idem'))!.stock.available).toBe(6);
    expect(await store.reserve('ord_i2', [{ productId: 'prd_idem', quantity: 1 }, { productId: 'prd_ghost', quantity: 1 }])).toEqual({
      status: 'rejected',
      reason: 'line 2: unknown product prd_ghost',
      productId: 'prd_ghost',
    });
    expect((await store.get('prd_idem'))!.stock.available).toBe(6);
  });

  it('commit and release happen once; a release before any reservation leaves a tombstone', async () => {
    await store.register(product('prd_settle', 10));
    await store.reserve('ord_s1', [{ productId: 'prd_settle', quantity: 3 }]);
    await store.reserve('ord_s2', [{ productId: 'prd_settle', quantity: 2 }]);
    expect((await store.settle('ord_s1', 'commit')).outcome).toBe('applied');
    expect((await store.settle('ord_s1', 'commit')).outcome).toBe('committed');
    expect((await store.settle('ord_s1', 'release')).outcome).toBe('committed');
    expect((await store.settle('ord_s2', 'release')).outcome).toBe('applied');
    expect((await store.settle('ord_s2', 'release')).outcome).toBe('released');
    expect((await store.get('prd_settle'))!.stock).toEqual({ available: 7, reserved: 0, sold: 3 });
    expect((await store.settle('ord_s3', 'release')).outcome).toBe('none');
    expect((await store.reserve('ord_s3', [{ productId: 'prd_settle', quantity: 1 }])).status).toBe('void');
    expect((await store.get('prd_settle'))!.stock).toEqual({ available: 7, reserved: 0, sold: 3 });
  });

  it('restock applies once per event id', async () => {
    await store.register(product('prd_re', 1));
    expect(await store.restock('ev1', 'prd_re', 5)).toBe(6);
    expect(await store.restock('ev1', 'prd_re', 5)).toBeNull();
  });

  it('projection order does not matter: a reservation replayed before its product registration', async () => {
    await store.reserve('ord_r1', [{ productId: 'prd_late', quantity: 2 }], false);
    expect(await store.get('prd_late')).toBeNull();
    await store.register(product('prd_late', 5));
    expect((await store.get('prd_late'))!.stock).toEqual({ available: 3, reserved: 2, sold: 0 });
  });
});
