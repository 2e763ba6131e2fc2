import type { PlanNode, QueryPlan } from '@apollo/query-planner';
import type { DocumentNode, FragmentDefinitionNode, GraphQLField, GraphQLNamedType, GraphQLSchema, SelectionSetNode } from 'graphql';
import { Kind, getNamedType, isAbstractType, isInterfaceType, isObjectType, parse } from '../graphql.js';

/** Federation's directives for "needs an identity", as the supergraph carries them from the subgraphs' schemas. */
const IDENTITY_DIRECTIVES = new Set(['authenticated', 'requiresScopes']);
/** Subgraph operation texts remembered per supergraph (the plans' fetches: bounded in practice, capped anyway). */
const MAX_REMEMBERED = 10_000;

type Marked = { readonly astNode?: { readonly directives?: readonly { readonly name: { readonly value: string } }[] } | null | undefined };
const marked = (element: Marked | undefined): boolean => element?.astNode?.directives?.some((d) => IDENTITY_DIRECTIVES.has(d.name.value)) ?? false;

/**
 * Which subgraph fetches need the caller's identity: those whose selection touches a field or a type
 * marked `@authenticated` or `@requiresScopes` in the supergraph, and every operation that is not a
 * query. Only those carry the identity, so a public fetch (the catalog) is the same for every
 * customer and can be shared. Anything this does not understand needs an identity: the safe side
 * is "not shared across customers".
 */
export class IdentityRequirements {
  readonly #known = new Map<string, boolean>();
  readonly #plans = new WeakMap<QueryPlan, boolean>();

  constructor(private readonly schema: GraphQLSchema) {}

  /**
   * Whether a plan's answer can depend on who asks: the subgraphs' answers are the only part of it
   * that can, and only the fetches that carry the identity get a caller's answer. A plan part this
   * does not know (a deferred node) counts as needing one.
   */
  planNeedsIdentity(plan: QueryPlan): boolean {
    let needs = this.#plans.get(plan);
    if (needs === undefined) {
      needs = this.#nodeNeeds(plan.node);
      this.#plans.set(plan, needs);
    }
    return needs;
  }

  #nodeNeeds(node: QueryPlan['node'] | PlanNode): boolean {
    if (!node) return false;
    switch (node.kind) {
      case 'Sequence':
      case 'Parallel':
        return node.nodes.some((n) => this.#nodeNeeds(n));
      case 'Flatten':
        return this.#nodeNeeds(node.node);
      case 'Condition':
        return this.#nodeNeeds(node.ifClause) || this.#nodeNeeds(node.elseClause);
      case 'Fetch':
        return this.needsIdentity(node.operation);
      default:
        return true;
    }
  }

  needsIdentity(query: string): boolean {
    let needs = this.#known.get(query);
    if (needs === undefined) {
      needs = this.#needs(query);
      if (this.#known.size >= MAX_REMEMBERED) this.#known.clear();
      this.#known.set(query, needs);
    }
    return needs;
  }

  #needs(query: string): boolean {
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch {
      return true;
    }
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const queryType = this.schema.getQueryType() ?? undefined;
    for (const d of document.definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) continue;
      if (d.kind !== Kind.OPERATION_DEFINITION || d.operation !== 'query' || !queryType) return true;
      if (this.#touches(d.selectionSet, queryType, fragments, new Set())) return true;
    }
    return false;
  }

  /** `parent` undefined: under `_entities`, where only type conditions say what is selected. */
  #touches(set: SelectionSetNode, parent: GraphQLNamedType | undefined, fragments: ReadonlyMap<string, FragmentDefinitionNode>, spread: Set<string>): boolean {
    if (marked(parent)) return true;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === '__typename') continue;
        if (name === '_entities' && parent === this.schema.getQueryType()) {
          if (selection.selectionSet && this.#touches(selection.selectionSet, undefined, fragments, spread)) return true;
          continue;
        }
        const fields = this.#fieldsNamed(parent, name);
        if (!fields) return true;
        for (const field of fields) {
          const type = getNamedType(field.type);
          if (marked(field) || marked(type)) return true;
          if (selection.selectionSet && this.#touches(selection.selectionSet, type, fragments, spread)) return true;
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : parent;
        if (!type || this.#touches(selection.selectionSet, type, fragments, spread)) return true;
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment) return true;
        if (spread.has(fragment.name.value)) continue;
        spread.add(fragment.name.value);
        const type = this.schema.getType(fragment.typeCondition.name.value);
        if (!type || this.#touches(fragment.selectionSet, type, fragments, spread)) return true;
      }
    }
    return false;
  }

  /** The field on `parent`, and on every type it may be (a field of an interface is each implementation's). */
  #fieldsNamed(parent: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown>[] | undefined {
    if (!parent || !(isObjectType(parent) || isInterfaceType(parent))) return undefined;
    const field = parent.getFields()[name];
    if (!field) return undefined;
    const out = [field];
    if (isAbstractType(parent)) {
      for (const type of this.schema.getPossibleTypes(parent)) {
        const own = type.getFields()[name];
        if (!own) return undefined;
        if (marked(type)) return undefined;
        out.push(own);
      }
    }
    return out;
  }
}
