import type { Operation } from '@apollo/federation-internals';
import { evaluateCondition, type FetchNode, type PlanNode, type QueryPlan, type QueryPlanSelectionNode } from '@apollo/query-planner';
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { GraphQLError, Kind, isAbstractType, isObjectType } from '../graphql.js';
import type { GatewayContext } from '../context.js';
import type { GatewayMetrics } from '../metrics.js';
import type { SubgraphClient } from './subgraph-client.js';
import { ErrorCode } from '@shop/service-kit';
import { operationOf, shapeResult, type Planning } from './apollo-federation.js';

/** What the executor answers: GraphQL's result shape, errors as GraphQLError for the engine to format. */
export interface ExecutionOutcome {
  readonly data?: Data | null;
  readonly errors?: readonly GraphQLError[];
  readonly extensions?: Data;
}

/** A planned operation: its federation form and its plan. */
export interface Planned {
  readonly operation: Operation;
  readonly plan: QueryPlan;
}

type Data = Record<string, unknown>;

interface Run {
  readonly prepared: Planned;
  readonly variables: Record<string, unknown>;
  readonly context: GatewayContext;
  readonly supergraphSchema: GraphQLSchema;
  readonly errors: GraphQLError[];
}

/** Where a plan node works: the values at a path of the result (a list once the path crossed a list). */
interface Cursor {
  readonly path: readonly (string | number)[];
  readonly data: Data | Data[];
  readonly root: Data;
}

/**
 * Runs query plans of queries and mutations (and the entity fetches of subscription events): the
 * fetches go straight to the subgraphs through the one `SubgraphClient`, and the response is
 * shaped by @apollo/gateway's own result shaping. What the stock executor spends per request
 * besides that (re-deriving the operation, OpenTelemetry spans, trace nodes, WHATWG Headers per
 * fetch) is skipped. It runs only plans that `isFast` accepts; the engine gives the others to the
 * stock executor.
 */
export class PlanExecutor {
  readonly #operations = new WeakMap<DocumentNode, Map<string, { planning: Planning; operation: Operation }>>();

  constructor(
    private readonly client: SubgraphClient,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Runs a plan that `isFast` accepted. */
  async run(planning: Planning, planned: Planned, variables: Record<string, unknown>, context: GatewayContext): Promise<ExecutionOutcome> {
    this.metrics.plansExecuted.inc({ executor: 'fast' });
    const run: Run = { prepared: planned, variables, context, supergraphSchema: planning.supergraphSchema, errors: [] };
    const root: Data = Object.create(null) as Data;
    const node = planned.plan.node as PlanNode | undefined;
    if (node) await this.#run(run, node, { path: [], data: root, root });
    return shape(run, root);
  }

  /**
   * Resolves the `rest` of a subscription plan for one upstream event, `primary` being the fetch that
   * produced it: the event's data is the root the entity fetches merge into, the result is shaped
   * for the client's operation. `undefined` when this executor does not run such a plan (the caller
   * then uses the stock one).
   */
  async resolveEvent(
    planning: Planning,
    args: {
      readonly document: DocumentNode;
      readonly operationName: string | undefined;
      readonly variables: Record<string, unknown>;
      readonly primary: FetchNode;
      readonly rest: PlanNode | undefined;
      readonly event: { readonly data?: Data | null; readonly errors?: readonly GraphQLFormattedError[] };
      readonly context: GatewayContext;
    },
  ): Promise<ExecutionOutcome | undefined> {
    if (args.rest && !isPlain(args.rest)) return undefined;
    const operation = this.#operation(planning, args.document, args.operationName);
    if (!operation) return undefined;
    const run: Run = {
      prepared: { operation, plan: { kind: 'QueryPlan' } },
      variables: args.variables,
      context: args.context,
      supergraphSchema: planning.supergraphSchema,
      errors: [],
    };
    this.#collectErrors(run, args.primary, args.event.errors, (path) => (path ? [...path] : undefined));
    if (!args.event.data) return { data: null, errors: run.errors };
    // A copy: other groups resolve the same event, and entity data is merged into it.
    const root = structuredClone(args.event.data);
    if (args.rest) await this.#run(run, args.rest, { path: [], data: root, root });
    return shape(run, root);
  }

  /** The federation form of a client operation, for result shaping; cached per document and supergraph. */
  #operation(planning: Planning, document: DocumentNode, operationName: string | undefined): Operation | undefined {
    let byName = this.#operations.get(document);
    if (!byName) {
      byName = new Map();
      this.#operations.set(document, byName);
    }
    const cached = byName.get(operationName ?? '');
    if (cached && cached.planning === planning) return cached.operation;
    const operation = operationOf(planning, document, operationName);
    if (operation) byName.set(operationName ?? '', { planning, operation });
    return operation;
  }

  async #run(run: Run, node: PlanNode, cursor: Cursor): Promise<void> {
    switch (node.kind) {
      case 'Sequence':
        for (const child of node.nodes) await this.#run(run, child, cursor);
        return;
      case 'Parallel':
        await Promise.all(node.nodes.map((child) => this.#run(run, child, cursor)));
        return;
      case 'Flatten': {
        const inner = moveInto(cursor, node.path);
        if (inner) await this.#run(run, node.node, inner);
        return;
      }
      case 'Condition': {
        const branch = evaluateCondition(node, run.prepared.operation.variableDefinitions, run.variables) ? node.ifClause : node.elseClause;
        if (branch) await this.#run(run, branch, cursor);
        return;
      }
      case 'Fetch':
        try {
          await this.#fetch(run, node, cursor);
        } catch (err) {
          run.errors.push(err instanceof GraphQLError ? err : new GraphQLError((err as Error).message, { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, serviceName: node.serviceName } }));
        }
        return;
      default:
        throw new Error(`plan node ${node.kind} reached the fast executor`);
    }
  }

  async #fetch(run: Run, fetch: FetchNode, cursor: Cursor): Promise<void> {
    const entities = (Array.isArray(cursor.data) ? cursor.data : [cursor.data]).filter((e): e is Data => e !== null && e !== undefined);
    if (entities.length === 0) return;
    const variables: Record<string, unknown> = {};
    for (const name of fetch.variableUsages ?? []) {
      if (Object.hasOwn(run.variables, name) && run.variables[name] !== undefined) variables[name] = run.variables[name];
    }

    if (!fetch.requires) {
      const response = await this.client.fetch(fetch.serviceName, { query: fetch.operation, operationName: fetch.operationName, variables }, run.context);
      this.#collectErrors(run, fetch, response.errors, (path) => (path ? [...cursor.path, ...path] : undefined));
      if (response.data) for (const entity of entities) deepMerge(entity, response.data);
      return;
    }

    const representations: Data[] = [];
    const targets: number[] = [];
    for (let i = 0; i < entities.length; i++) {
      const representation = selectRepresentation(run.supergraphSchema, entities[i]!, fetch.requires);
      if (representation && typeof representation.__typename === 'string') {
        representations.push(representation);
        targets.push(i);
      }
    }
    if (representations.length === 0) return;
    if (Object.hasOwn(variables, 'representations')) throw new GraphQLError('Variables cannot contain key "representations".', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
    const response = await this.client.fetch(fetch.serviceName, { query: fetch.operation, operationName: fetch.operationName, variables: { ...variables, representations } }, run.context);
    // An error at `_entities.<i>.…` belongs to the i-th entity's place in the client's result.
    let entityPaths: (string | number)[][] | undefined;
    this.#collectErrors(run, fetch, response.errors, (path) => {
      if (!path) return undefined;
      if (path[0] === '_entities' && typeof path[1] === 'number') {
        entityPaths ??= pathsOf(cursor.root, cursor.path);
        const at = targets[path[1]];
        return [...(at !== undefined ? (entityPaths[at] ?? cursor.path) : cursor.path), ...path.slice(2)];
      }
      return [...cursor.path, ...path];
    });
    const received = response.data?._entities;
    if (response.data === null || response.data === undefined) return;
    if (!Array.isArray(received) || received.length !== representations.length) {
      throw new GraphQLError(`Subgraph ${fetch.serviceName} answered _entities with ${Array.isArray(received) ? received.length : 'no'} entries for ${representations.length} representations.`, {
        extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, serviceName: fetch.serviceName },
      });
    }
    for (let i = 0; i < received.length; i++) {
      const value = received[i] as Data | null;
      const entity = entities[targets[i]!]!;
      if (value && value.__typename === undefined) value.__typename = entity.__typename;
      deepMerge(entity, value);
    }
  }

  #collectErrors(
    run: Run,
    fetch: FetchNode,
    errors: readonly GraphQLFormattedError[] | undefined,
    pathOf: (path: readonly (string | number)[] | undefined) => (string | number)[] | undefined,
  ): void {
    for (const error of errors ?? []) {
      const extensions: Record<string, unknown> = { ...error.extensions, serviceName: fetch.serviceName };
      if (extensions.code === undefined) extensions.code = ErrorCode.DOWNSTREAM_SERVICE_ERROR;
      const path = pathOf(error.path);
      run.errors.push(
        new GraphQLError(error.message || `Error while fetching subquery from service "${fetch.serviceName}"`, {
          ...(path ? { path } : {}),
          extensions,
        }),
      );
    }
  }
}

/**
 * Response keys are chosen by clients (aliases), so `__proto__` is an ordinary key here: read only
 * own properties, and define rather than assign, or a crafted alias would reach Object.prototype.
 */
function own(value: Data, key: string): unknown {
  return Object.hasOwn(value, key) ? value[key] : undefined;
}

function setOwn(target: Data, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

/** The client's result from the merged data: @apollo/gateway's shaping, and its way of reporting errors. */
function shape(run: Run, root: Data): ExecutionOutcome {
  const shaped = shapeResult(run.prepared.operation, run.variables, root);
  if (run.errors.length > 0) return { errors: run.errors, data: shaped.data ?? null };
  // As the stock executor: values that broke non-null rules without a subgraph error are reported aside.
  if (shaped.errors.length > 0) return { data: shaped.data ?? null, extensions: { valueCompletion: shaped.errors } };
  return { data: shaped.data ?? null };
}

/** Whether this executor runs the plan of this document (no introspection, nothing but plain nodes); the stock one runs the others. */
export function isFast(document: DocumentNode, plan: QueryPlan): boolean {
  return !hasIntrospection(document) && isPlain(plan.node);
}

/** Whether the plan has only what this executor runs: sequences, parallels, flattens, conditions and rewrite-free fetches. */
function isPlain(node: QueryPlan['node']): boolean {
  if (!node) return true;
  switch (node.kind) {
    case 'Sequence':
    case 'Parallel':
      return node.nodes.every(isPlain);
    case 'Flatten':
      return isPlain(node.node);
    case 'Condition':
      return (!node.ifClause || isPlain(node.ifClause)) && (!node.elseClause || isPlain(node.elseClause));
    case 'Fetch':
      return !node.inputRewrites?.length && !node.outputRewrites?.length && !node.contextRewrites?.length && !node.hasDefers;
    default:
      return false;
  }
}

function hasIntrospection(document: DocumentNode): boolean {
  let found = false;
  const visit = (selections: readonly { kind: string; name?: { value: string }; selectionSet?: { selections: readonly unknown[] } }[]) => {
    for (const s of selections) {
      if (found) return;
      if (s.kind === Kind.FIELD && (s.name?.value === '__schema' || s.name?.value === '__type')) found = true;
      else if (s.selectionSet) visit(s.selectionSet.selections as typeof selections);
    }
  };
  for (const definition of document.definitions) {
    if ('selectionSet' in definition && definition.selectionSet) visit(definition.selectionSet.selections as Parameters<typeof visit>[0]);
  }
  return found;
}

/** The values at `path` below the cursor, flattened across lists (`@`). */
function moveInto(cursor: Cursor, path: readonly (string | number)[]): Cursor | undefined {
  let values: unknown[] = Array.isArray(cursor.data) ? cursor.data : [cursor.data];
  let list = Array.isArray(cursor.data);
  for (const step of path) {
    const next: unknown[] = [];
    for (const value of values) {
      if (value === null || value === undefined) continue;
      if (step === '@') {
        if (Array.isArray(value)) next.push(...(value as unknown[]));
        list = true;
      } else {
        const child = own(value as Data, step as string);
        if (child !== undefined) next.push(child);
      }
    }
    values = next;
  }
  const present = values.filter((v): v is Data => v !== null && v !== undefined);
  if (present.length === 0) return undefined;
  return { path: [...cursor.path, ...path], data: list ? present : present[0]!, root: cursor.root };
}

/** The concrete paths (list indexes filled in) of the non-null values at `path` from the root, in order. */
function pathsOf(root: Data, path: readonly (string | number)[]): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (value: unknown, at: number, prefix: (string | number)[]) => {
    if (value === null || value === undefined) return;
    if (at === path.length) {
      out.push(prefix);
      return;
    }
    const step = path[at]!;
    if (step === '@') {
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, at + 1, [...prefix, i]));
    } else {
      walk(own(value as Data, step as string), at + 1, [...prefix, step]);
    }
  };
  walk(root, 0, []);
  return out;
}

/** The `requires` selection of an entity: its representation for `_entities`, or null when a key field is missing. */
function selectRepresentation(schema: GraphQLSchema, source: Data, selections: readonly QueryPlanSelectionNode[]): Data | null {
  const out: Data = {};
  for (const selection of selections) {
    if (selection.kind === 'Field') {
      const name = selection.alias ?? selection.name;
      const value = own(source, name);
      if (value === undefined) return null;
      if (!selection.selections || value === null) setOwn(out, name, value);
      else if (Array.isArray(value)) setOwn(out, name, value.map((item: unknown) => (item && typeof item === 'object' ? selectRepresentation(schema, item as Data, selection.selections!) : item)));
      else setOwn(out, name, selectRepresentation(schema, value as Data, selection.selections));
    } else if (!selection.typeCondition || isOfType(schema, source, selection.typeCondition)) {
      const inner = selectRepresentation(schema, source, selection.selections);
      if (inner) deepMerge(out, inner);
    }
  }
  return out;
}

function isOfType(schema: GraphQLSchema, value: Data, typeCondition: string): boolean {
  const typename = value.__typename;
  if (typeof typename !== 'string') return false;
  if (typename === typeCondition) return true;
  const condition = schema.getType(typeCondition);
  const type = schema.getType(typename);
  if (!condition || !type || !isObjectType(type) || !isAbstractType(condition)) return false;
  return schema.isSubType(condition, type);
}

/** Merges a fetch's data into what is already there: objects field by field, equal-length lists item by item. */
function deepMerge(target: Data, source: Data | null | undefined): void {
  if (!source) return;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === undefined) continue;
    const existing = own(target, key);
    if (existing && typeof existing === 'object' && value && typeof value === 'object') {
      if (Array.isArray(existing) && Array.isArray(value)) {
        if (existing.length === value.length) {
          for (let i = 0; i < value.length; i++) {
            const a: unknown = existing[i];
            const b: unknown = value[i];
            if (a && typeof a === 'object' && b && typeof b === 'object' && !Array.isArray(a)) deepMerge(a as Data, b as Data);
            else existing[i] = b;
          }
          continue;
        }
      } else if (!Array.isArray(existing) && !Array.isArray(value)) {
        deepMerge(existing as Data, value as Data);
        continue;
      }
    }
    setOwn(target, key, value);
  }
}
