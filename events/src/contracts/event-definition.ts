import type { z } from 'zod';

/** Schemas of every version of one event type, oldest first: index 0 is version 1. */
export type VersionSchemas = readonly [z.ZodType, ...z.ZodType[]];

/**
 * One upcaster per step: version N's payload → version N+1's input. Typed as a chain so an upcaster that
 * skips or mistypes a field does not compile; its output is still validated against the next version.
 */
export type UpcasterChain<S extends readonly z.ZodType[]> = S extends readonly [
  infer A extends z.ZodType,
  infer B extends z.ZodType,
  ...infer Rest extends z.ZodType[],
]
  ? readonly [(payload: z.output<A>) => z.input<B>, ...UpcasterChain<readonly [B, ...Rest]>]
  : readonly [];

export type LatestSchema<S extends VersionSchemas> = S extends readonly [...z.ZodType[], infer L extends z.ZodType] ? L : never;

export interface EventDefinition<S extends VersionSchemas = VersionSchemas> {
  /** The topic every version of this event is published to. */
  readonly topic: string;
  /** What the record key is (documentation, shown by tooling). */
  readonly key: string;
  readonly versions: S;
  readonly upcasters: UpcasterChain<S>;
}

/** Declares an event type: its topic, its versions (never edit a published one) and the upcasters between them. */
export function defineEvent<const S extends VersionSchemas>(def: EventDefinition<S>): EventDefinition<S> {
  if (def.upcasters.length !== def.versions.length - 1) {
    throw new Error(`an event with ${def.versions.length} versions needs ${def.versions.length - 1} upcasters`);
  }
  return Object.freeze(def);
}
