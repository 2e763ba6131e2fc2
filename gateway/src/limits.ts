import type { DocumentNode, FragmentDefinitionNode, GraphQLOutputType, GraphQLSchema, OperationDefinitionNode, SelectionSetNode, ValueNode } from 'graphql';
import { GraphQLError, Kind, getNamedType, getNullableType, isInterfaceType, isListType, isObjectType } from './graphql.js';

import { ErrorCode } from '@shop/service-kit';

/** `extensions.code` of every complexity refusal; `extensions.limit` says which one. */
export const QUERY_TOO_COMPLEX = ErrorCode.QUERY_TOO_COMPLEX;

export interface ComplexityLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxCost: number;
}

export interface Complexity {
  readonly depth: number;
  readonly aliases: number;
  readonly cost: number;
  /** Depth of the deepest field inside `__schema`/`__type`, which has its own maximum. */
  readonly introspectionDepth?: number;
  /** Whether a variable's value sized a list (`first: $n`): otherwise the measure is the same for any variables. */
  readonly readVariables?: boolean;
}

/** Multiplier of a list field without a `first`/`last` argument. */
const DEFAULT_LIST_SIZE = 10;
/**
 * Maximum depth inside introspection (`__schema`, `__type`; off in production). The standard
 * introspection query (Apollo Sandbox's) needs 15, more than MAX_DEPTH allows elsewhere.
 */
export const INTROSPECTION_MAX_DEPTH = 16;
const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

/**
 * Static measure of an operation, before any planning: depth (root fields are 1), aliases, and
 * cost (every field 1; a field with `first`/`last` multiplies its children by it, or by the
 * argument's default; a connection's `edges`/`nodes` are not multiplied again; other lists by 10).
 * Every field and every alias counts, `__typename` included: a thousand `__typename` aliases are
 * a thousand fields to answer. Inside introspection, depth is held to INTROSPECTION_MAX_DEPTH instead.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
): Complexity {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  let aliases = 0;
  let maxDepth = 0;
  let introspectionDepth = 0;
  let readVariables = false;

  const numberArg = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      readVariables = true;
      const v = variables[value.name.value];
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    }
    return undefined;
  };

  const walk = (set: SelectionSetNode, parent: GraphQLOutputType | undefined, depth: number, seen: ReadonlySet<string>, inConnection: boolean, introspection: boolean): number => {
    let cost = 0;
    const named = parent ? getNamedType(parent) : undefined;
    const fields = named && (isObjectType(named) || isInterfaceType(named)) ? named.getFields() : undefined;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.alias) aliases++;
        if (introspection) {
          if (depth > introspectionDepth) introspectionDepth = depth;
        } else if (depth > maxDepth) maxDepth = depth;
        const inIntrospection = introspection || INTROSPECTION_FIELDS.has(sel.name.value);
        const def = fields?.[sel.name.value];
        let fieldCost = 1;
        if (sel.selectionSet) {
          // `first`/`last` (given, or the schema default) sizes a connection or a list; the connection's
          // own `edges`/`nodes` lists are then not multiplied again. Other lists count as 10.
          const sizeArg = def?.args.find((a) => a.name === 'first' || a.name === 'last');
          const given = sizeArg ? numberArg(sel.arguments?.find((a) => a.name.value === sizeArg.name)?.value) : undefined;
          const size = given ?? (typeof sizeArg?.defaultValue === 'number' ? sizeArg.defaultValue : undefined);
          const list = def !== undefined && isListType(getNullableType(def.type));
          const multiplier = size !== undefined ? size : list && !(inConnection && (sel.name.value === 'edges' || sel.name.value === 'nodes')) ? DEFAULT_LIST_SIZE : 1;
          const childCost = walk(sel.selectionSet, def?.type, depth + 1, seen, size !== undefined && !list, inIntrospection);
          fieldCost += Math.max(1, multiplier) * childCost;
        }
        cost += fieldCost;
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const cond = sel.typeCondition ? (schema.getType(sel.typeCondition.name.value) as GraphQLOutputType | undefined) : parent;
        cost += walk(sel.selectionSet, cond ?? parent, depth, seen, inConnection, introspection);
      } else {
        const name = sel.name.value;
        const frag = fragments.get(name);
        if (!frag || seen.has(name)) continue; // unknown or cyclic: validation reports it
        const cond = schema.getType(frag.typeCondition.name.value) as GraphQLOutputType | undefined;
        cost += walk(frag.selectionSet, cond ?? parent, depth, new Set([...seen, name]), inConnection, introspection);
      }
    }
    return cost;
  };

  const root =
    operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const cost = walk(operation.selectionSet, root ?? undefined, 1, new Set(), false, false);
  return { depth: maxDepth, aliases, cost, introspectionDepth, readVariables };
}

/** The first limit the operation exceeds, as a GraphQL error, or `undefined`. */
export function checkComplexity(measured: Complexity, limits: ComplexityLimits): GraphQLError | undefined {
  const refuse = (limit: 'depth' | 'aliases' | 'cost', max: number, actual: number, what: string) =>
    new GraphQLError(`The operation ${what} (${actual}) exceeds the maximum of ${max}.`, {
      extensions: { code: QUERY_TOO_COMPLEX, limit, max, actual },
    });
  if (measured.depth > limits.maxDepth) return refuse('depth', limits.maxDepth, measured.depth, 'depth');
  const introspectionDepth = measured.introspectionDepth ?? 0;
  if (introspectionDepth > INTROSPECTION_MAX_DEPTH) return refuse('depth', INTROSPECTION_MAX_DEPTH, introspectionDepth, 'introspection depth');
  if (measured.aliases > limits.maxAliases) return refuse('aliases', limits.maxAliases, measured.aliases, 'uses aliases');
  if (measured.cost > limits.maxCost) return refuse('cost', limits.maxCost, measured.cost, 'cost');
  return undefined;
}
