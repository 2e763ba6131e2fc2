import type { z } from 'zod';
import type { EventDefinition, LatestSchema } from './event-definition.js';
import { INVENTORY_EVENTS } from './inventory.js';
import { ORDER_EVENTS } from './orders.js';
import { PAYMENT_EVENTS } from './payments.js';

/** Every event type → its topic, its versions' schemas (v1 first) and the upcaster chain between them. */
export const EVENT_REGISTRY = { ...ORDER_EVENTS, ...PAYMENT_EVENTS, ...INVENTORY_EVENTS } as const;

export type EventType = keyof typeof EVENT_REGISTRY;
export type OrderEventType = keyof typeof ORDER_EVENTS;
export type PaymentEventType = keyof typeof PAYMENT_EVENTS;
export type InventoryEventType = keyof typeof INVENTORY_EVENTS;

type VersionsOf<T extends EventType> = (typeof EVENT_REGISTRY)[T]['versions'];

/** The payload of the latest version of `T`, as its zod schema outputs it. */
export type PayloadOf<T extends EventType> = Readonly<z.output<LatestSchema<VersionsOf<T>>>>;

export const EVENT_TYPES: readonly EventType[] = Object.freeze(Object.keys(EVENT_REGISTRY) as EventType[]);

export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && Object.hasOwn(EVENT_REGISTRY, type);
}

/** Registry entries are typed per event; most callers only need the shared shape. */
export function definitionOf(type: EventType): EventDefinition {
  return EVENT_REGISTRY[type] as EventDefinition;
}

/** The topic an event type is published to. */
export function topicOf(type: EventType): string {
  return definitionOf(type).topic;
}

/** The version `createEvent` writes and `parseEvent` upcasts to. */
export function latestVersion(type: EventType): number {
  return definitionOf(type).versions.length;
}

/** The schema of one version, or `undefined` for a version that does not exist. */
export function payloadSchema(type: EventType, version: number): z.ZodType | undefined {
  return Number.isInteger(version) && version >= 1 ? definitionOf(type).versions[version - 1] : undefined;
}

/** Every (type, version) pair with its schema: what the schema snapshots cover. */
export function allEventVersions(): { type: EventType; version: number; schema: z.ZodType }[] {
  return EVENT_TYPES.flatMap((type) => definitionOf(type).versions.map((schema, i) => ({ type, version: i + 1, schema })));
}
