/**
 * docs/events-api.md is what the services code against: these checks pin its names and types
 * (`expectTypeOf` is checked by `npm run typecheck`; the runtime part by vitest).
 */
import type { Kafka } from 'kafkajs';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as root from '@shop/events';
import {
  ALL_TOPICS,
  HEADERS,
  ORDER_STATUSES,
  TOPICS,
  createEvent,
  deadLetterTopic,
  deterministicEventId,
  parseEvent,
  topicOf,
  type AnyEvent,
  type EventEnvelope,
  type EventType,
  type OrderStatus,
  type PayloadOf,
} from '@shop/events/contracts';
import * as kafka from '@shop/events/kafka';

type DocumentedEventType =
  | 'OrderPlaced'
  | 'OrderCancellationRequested'
  | 'OrderStatusChanged'
  | 'PaymentAuthorizationRequested'
  | 'PaymentAuthorized'
  | 'PaymentDeclined'
  | 'ProductRegistered'
  | 'ProductRestocked'
  | 'StockReserved'
  | 'StockReservationRejected'
  | 'StockReleased'
  | 'StockCommitted';

describe('the documented @shop/events API', () => {
  it('contracts: names, values and types', () => {
    expect(TOPICS).toEqual({ orders: 'shop.orders', payments: 'shop.payments', inventory: 'shop.inventory' });
    expect(ALL_TOPICS).toEqual(['shop.orders', 'shop.payments', 'shop.inventory']);
    expect(deadLetterTopic('shop.orders')).toBe('shop.orders.dlq');
    expect(HEADERS).toEqual({
      eventId: 'x-event-id',
      eventType: 'x-event-type',
      eventVersion: 'x-event-version',
      correlationId: 'x-correlation-id',
      causationId: 'x-causation-id',
    });
    expect(ORDER_STATUSES).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED', 'REJECTED', 'CANCELLED']);

    expectTypeOf(TOPICS).toEqualTypeOf<{ readonly orders: 'shop.orders'; readonly payments: 'shop.payments'; readonly inventory: 'shop.inventory' }>();
    expectTypeOf(ALL_TOPICS).toEqualTypeOf<readonly string[]>();
    expectTypeOf<EventType>().toEqualTypeOf<DocumentedEventType>();
    expectTypeOf<OrderStatus>().toEqualTypeOf<(typeof ORDER_STATUSES)[number]>();
    expectTypeOf(topicOf).toEqualTypeOf<(type: EventType) => string>();
    expectTypeOf(deterministicEventId).toEqualTypeOf<(...parts: string[]) => string>();
    expectTypeOf(parseEvent).toEqualTypeOf<(raw: unknown) => AnyEvent>();
    expectTypeOf<PayloadOf<'ProductRegistered'>['price']>().toEqualTypeOf<{ amount: number; currency: 'USD' }>();
    expectTypeOf<EventEnvelope<'OrderPlaced'>['payload']>().toEqualTypeOf<PayloadOf<'OrderPlaced'>>();
    expectTypeOf(createEvent<'PaymentDeclined'>)
      .parameter(2)
      .toMatchTypeOf<{ key: string; correlationId: string; causationId?: string | null; id?: string; occurredAt?: string }>();
  });

  it('AnyEvent is a discriminated union a switch can exhaust', () => {
    const describeEvent = (event: AnyEvent): string => {
      switch (event.type) {
        case 'OrderPlaced':
          return `${event.payload.lines.length} lines`;
        case 'OrderCancellationRequested':
          return event.payload.reason;
        case 'OrderStatusChanged':
          return event.payload.status;
        case 'PaymentAuthorizationRequested':
          return String(event.payload.amount.amount);
        case 'PaymentAuthorized':
          return event.payload.authorizationId;
        case 'PaymentDeclined':
          return event.payload.reason;
        case 'ProductRegistered':
          return event.payload.description;
        case 'ProductRestocked':
          return String(event.payload.quantity);
        case 'StockReserved':
        case 'StockReleased':
        case 'StockCommitted':
          return String(event.payload.lines.length);
        case 'StockReservationRejected':
          return event.payload.productId ?? 'none';
        default: {
          const _: never = event;
          return _;
        }
      }
    };
    expect(describeEvent(createEvent('PaymentDeclined', { orderId: 'o', reason: 'no funds' }, { key: 'o', correlationId: 'c' }))).toBe('no funds');
  });

  it('root exports errors and contracts, not kafka or the broker', () => {
    const err = new root.EventError('x', { retriable: true, cause: 1 });
    expect(err).toMatchObject({ retriable: true, cause: 1 });
    expect(new root.EventContractError('y')).toBeInstanceOf(root.EventError);
    expect(new root.EventContractError('y').retriable).toBe(false);
    expect(root.parseEvent).toBe(parseEvent);
    expect(root).not.toHaveProperty('startConsumer');
    expect(root).not.toHaveProperty('startBroker');
  });

  it('kafka: factories with the documented options', () => {
    expectTypeOf(kafka.createKafka).parameter(0).toMatchTypeOf<{ brokers: string[]; clientId: string; logger: Logger }>();
    expectTypeOf(kafka.ensureTopics).toMatchTypeOf<(kafka: Kafka, opts?: { partitions?: number; topics?: string[] }) => Promise<void>>();
    expectTypeOf(kafka.createEventProducer).toMatchTypeOf<(opts: { kafka: Kafka; logger: Logger }) => Promise<kafka.EventProducer>>();
    expectTypeOf<kafka.EventProducer['publish']>().toEqualTypeOf<(events: AnyEvent | readonly AnyEvent[]) => Promise<void>>();
    expectTypeOf<kafka.HandlerContext>().toEqualTypeOf<{
      topic: string;
      partition: number;
      offset: string;
      headers: Record<string, string>;
      logger: Logger;
      emit(events: AnyEvent | readonly AnyEvent[]): void;
      afterEmit(effect: () => Promise<unknown>): void;
    }>();
    expectTypeOf<kafka.ConsumerRunner>().toEqualTypeOf<{ close(): Promise<void> }>();
    expectTypeOf(kafka.startConsumer)
      .parameter(0)
      .toMatchTypeOf<{
        kafka: Kafka;
        redis: Redis | Cluster;
        groupId: string;
        topics: readonly string[];
        handle: (event: AnyEvent, ctx: kafka.HandlerContext) => Promise<kafka.HandleOutcome>;
        logger: Logger;
        producer: kafka.EventProducer;
        fromBeginning?: boolean;
        maxAttempts?: number;
        sessionTimeoutMs?: number;
        processedTtlSeconds?: number;
      }>();
    expect(typeof kafka.startConsumer).toBe('function');
  });
});
