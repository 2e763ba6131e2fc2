// Trace context through Kafka: a publish made in a span is consumed in a child span of it, and what the
// handler emits is published, and consumed again, in the same trace. Real broker and Redis; spans in memory.
import { context, trace, type Span } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, type AnyEvent } from '@shop/events';
import { createEventProducer, startConsumer, type ConsumerRunner, type EventProducer } from '@shop/events/kafka';
import { startKafka, startRedis, testLogger, waitFor, type TestKafka, type TestRedis } from '../../events/test/kafka/helpers.js';
import { tracingSettings } from '../src/tracing.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let kafka: TestKafka;
let redis: TestRedis;
let producer: EventProducer;
const consumers: ConsumerRunner[] = [];

beforeAll(async () => {
  provider.register();
  redis = await startRedis();
  kafka = await startKafka();
  producer = await createEventProducer({ kafka: kafka.kafka, logger: testLogger });
});

afterAll(async () => {
  for (const c of consumers) await c.close();
  await producer?.close();
  await kafka?.close();
  await redis?.stop();
  await provider.shutdown();
  trace.disable();
  context.disable();
});

const placed = (orderId: string) =>
  createEvent(
    'OrderCancellationRequested',
    { orderId, requestedBy: 'cus-1', reason: 'changed my mind' },
    { key: orderId, correlationId: `corr-${orderId}` },
  );

describe('trace context through Kafka', () => {
  it('publish → process → emit → process: one trace, each span a child of the one before', async () => {
    const seen: { type: string; traceId: string | undefined }[] = [];
    const base = { kafka: kafka.kafka, redis: redis.client, logger: testLogger, producer, sessionTimeoutMs: 6_000 };
    consumers.push(
      await startConsumer({
        ...base,
        groupId: 'g-first',
        topics: ['shop.orders'],
        handle: async (event, ctx) => {
          seen.push({ type: event.type, traceId: trace.getActiveSpan()?.spanContext().traceId });
          ctx.emit(createEvent('PaymentDeclined', { orderId: (event as Extract<AnyEvent, { type: 'OrderCancellationRequested' }>).payload.orderId, reason: 'test' }, { key: event.key, correlationId: event.correlationId }));
        },
      }),
      await startConsumer({
        ...base,
        groupId: 'g-second',
        topics: ['shop.payments'],
        handle: async (event) => void seen.push({ type: event.type, traceId: trace.getActiveSpan()?.spanContext().traceId }),
      }),
    );

    const root: Span = provider.getTracer('test').startSpan('client request');
    await context.with(trace.setSpan(context.active(), root), () => producer.publish(placed('ord-traced')));
    root.end();
    const traceId = root.spanContext().traceId;

    await waitFor('both handlers', () => seen.length === 2);
    expect(seen).toEqual([
      { type: 'OrderCancellationRequested', traceId },
      { type: 'PaymentDeclined', traceId },
    ]);
    await waitFor('every span ended', () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId).length >= 5);
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const parentOf = (s: (typeof spans)[number]) => s.parentSpanContext?.spanId;
    const [send1] = byName('send shop.orders');
    const [process1] = byName('process shop.orders');
    const [send2] = byName('send shop.payments');
    const [process2] = byName('process shop.payments');
    expect(parentOf(send1!)).toBe(root.spanContext().spanId);
    expect(parentOf(process1!)).toBe(send1!.spanContext().spanId);
    expect(parentOf(send2!)).toBe(process1!.spanContext().spanId);
    expect(parentOf(process2!)).toBe(send2!.spanContext().spanId);
    expect(process1!.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.consumer.group.name': 'g-first', 'shop.event.type': 'OrderCancellationRequested' });
  });
});

describe('tracingSettings (the standard variables)', () => {
  it('is off without an endpoint, or when disabled', () => {
    expect(tracingSettings({})).toBeNull();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
  });
  it('takes the traces protocol over the general one, http/protobuf by default, and refuses the rest', () => {
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' })).toEqual({ protocol: 'http/protobuf' });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toEqual({ protocol: 'http/json' });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })).toEqual({ protocol: 'http/protobuf' });
    expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/not supported/);
  });
});
