// One order placed with a client's `traceparent` comes back as one trace across every service: the gateway,
// the subgraphs' HTTP, Kafka's sends and every consumer's processing, the saga's transitions, the pub/sub
// pushes and the gateway's push to the subscribed client. Exported over OTLP (http/json) to a receiver here.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, wsClient } from '../support/clients.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { listProducts, placeOrderWithHeaders, WATCH_ORDER, type StatusChange } from '../support/shop.js';
import { startSystem, type TestSystem } from '../support/system.js';
import { eventually } from '../support/clients.js';

let receiver: OtlpReceiver;
let system: TestSystem;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  system = await startSystem({
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Exported every 200 ms instead of every 5 s, so the test does not wait on the batch processor.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
});

afterAll(async () => {
  await system?.stop();
  await receiver?.close();
});

describe('OpenTelemetry traces', () => {
  it('one trace id spans gateway, orders, inventory, notifications and the push to the client', async () => {
    const token = await system.token('trace-customer');
    const [product] = (await listProducts(system.gatewayUrl)).filter((p) => p.stock.available > 0);
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

    const order = await placeOrderWithHeaders(system.gatewayUrl, token, { lines: [{ productId: product!.id, quantity: 1 }], paymentToken: 'tok_visa' }, { traceparent });
    const client = wsClient(system.gatewayUrl, token);
    const { events } = await collect<{ orderStatusChanged: StatusChange }>(client, WATCH_ORDER, { orderId: order.id, after: 0 }, (evs) =>
      evs.some((e) => e.orderStatusChanged.status === 'CONFIRMED'),
    );
    await client.dispose();
    expect(events.at(-1)?.orderStatusChanged.status).toBe('CONFIRMED');

    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    const has = (service: string, name: string | RegExp) => (s: ReceivedSpan) => s.service === service && (typeof name === 'string' ? s.name === name : name.test(s.name));
    const expected: [string, string | RegExp][] = [
      ['gateway', /^POST/],
      ['orders', 'POST /graphql'],
      ['orders', 'send shop.orders'],
      ['inventory', 'process shop.orders'],
      ['orders', 'process shop.inventory'],
      ['orders', 'order transition'],
      ['orders', 'publish order-status'],
      ['notifications', 'process shop.orders'],
      ['orders', 'push orderStatusChanged'],
      ['gateway', 'subscription push'],
    ];
    const missing = () => expected.filter(([svc, name]) => !inTrace().some(has(svc, name))).map(([svc, name]) => `${svc} ${String(name)}`);
    await eventually('every part of the order in its trace', async () => (missing().length === 0 ? true : undefined), 20_000).catch((err: unknown) => {
      const seen = [...new Set(inTrace().map((s) => `${s.service} ${s.name}`))];
      throw new Error(`${(err as Error).message}; missing: ${missing().join(', ')}; in the trace: ${seen.join(', ')}; spans received in all: ${receiver.spans.length}`);
    });

    // One tree: every span but the root names a parent that is in the trace or is the client's.
    const ids = new Set(inTrace().map((s) => s.spanId));
    const clientSpan = traceparent.split('-')[2];
    for (const s of inTrace()) expect(s.parentSpanId === clientSpan || ids.has(s.parentSpanId ?? ''), `${s.service} ${s.name}`).toBe(true);
    // Nothing of another order's saga joined this trace.
    const orderIds = new Set(inTrace().flatMap((s) => (typeof s.attributes['shop.order.id'] === 'string' ? [s.attributes['shop.order.id']] : [])));
    expect([...orderIds]).toEqual([order.id]);
  });
});
