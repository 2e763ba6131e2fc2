import type { GraphQLSchema } from 'graphql';
import { getNamedType, getNullableType, isObjectType } from '../graphql.js';

/**
 * A subscription field whose stream can be resumed: on resubscribing, the gateway passes
 * `<argument>: <last cursor delivered>` and the subgraph replays only what came after it.
 */
export interface ResumableField {
  readonly argument: string;
  /** Field of the event holding its position (added to the upstream selection when missing). */
  readonly cursorField: string;
}

/** The convention a subgraph follows to declare a resumable subscription (see the gateway's README). */
const RESUME_ARGUMENT = 'after';
const CURSOR_FIELD = 'sequence';

/**
 * The resumable subscription fields of a schema, by field name. The rule, read from the schema and
 * nowhere else: a `Subscription` field is resumable when it takes an `after: Int` argument and its
 * event type has an Int `sequence` field, the position `after` refers to.
 */
export function resumableFields(schema: GraphQLSchema): ReadonlyMap<string, ResumableField> {
  const out = new Map<string, ResumableField>();
  for (const field of Object.values(schema.getSubscriptionType()?.getFields() ?? {})) {
    const argument = field.args.find((a) => a.name === RESUME_ARGUMENT);
    if (!argument || getNullableType(argument.type).toString() !== 'Int') continue;
    const event = getNamedType(field.type);
    const cursor = isObjectType(event) ? event.getFields()[CURSOR_FIELD] : undefined;
    if (!cursor || getNullableType(cursor.type).toString() !== 'Int') continue;
    out.set(field.name, { argument: RESUME_ARGUMENT, cursorField: CURSOR_FIELD });
  }
  return out;
}
