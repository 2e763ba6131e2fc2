/**
 * Everything the gateway takes from Apollo Federation's packages, in one module, so that an
 * upgrade of the pinned versions has one place to look at (and `apollo-federation.test.ts` fails
 * loudly when their behaviour changes).
 *
 * Public API: `Supergraph` (@apollo/federation-internals) reads the supergraph, its API schema and
 * its subgraphs; `QueryPlanner` (@apollo/query-planner) plans; `executeQueryPlan` and
 * `buildOperationContext` (@apollo/gateway) run the plans the gateway's own executor leaves alone.
 *
 * Not public: `computeResponse` (@apollo/gateway's result shaping: aliases, field order,
 * `__typename`, null propagation), so answers are exactly the stock gateway's.
 */
import { createRequire } from 'node:module';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
import { DEFAULT_SUPPORTED_SUPERGRAPH_FEATURES, Supergraph, operationFromDocument, type Operation, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { GraphQLError } from '../graphql.js';
import type { GatewayContext } from '../context.js';

const { computeResponse } = createRequire(import.meta.url)('@apollo/gateway/dist/resultShaping.js') as {
  computeResponse(args: {
    operation: Operation;
    variables: Record<string, unknown> | undefined;
    input: Record<string, unknown>;
    introspectionHandling: (field: unknown) => unknown;
  }): { data: Record<string, unknown> | null | undefined; errors: GraphQLError[] };
};

/** What one supergraph gives the engine: its schemas, its planner and its subgraphs. */
export interface Planning {
  /** The API schema in federation's form (what operations are planned and shaped against). */
  readonly apiSchema: Schema;
  /** The API schema for graphql-js (validation, variables, introspection). */
  readonly schema: GraphQLSchema;
  /** The full supergraph for graphql-js (type conditions of entity representations). */
  readonly supergraphSchema: GraphQLSchema;
  readonly planner: QueryPlanner;
  /** Subgraph names and routing URLs, as the supergraph lists them. */
  readonly subgraphs: readonly { readonly name: string; readonly url: string }[];
}

/**
 * Apollo's defaults, and the two features that mark what needs an identity: the gateway reads them to
 * forward the caller's identity to the fetches that need it (`identity-requirements.ts`), and the
 * subgraphs refuse those fields without one. (Apollo refuses `for: SECURITY` features by default
 * because it does not know whether anything enforces them.)
 */
const SUPPORTED_FEATURES = new Set([...DEFAULT_SUPPORTED_SUPERGRAPH_FEATURES, 'https://specs.apollo.dev/authenticated/v0.1', 'https://specs.apollo.dev/requiresScopes/v0.1']);

export function buildPlanning(supergraphSdl: string, opts: { validate: boolean }): Planning {
  const supergraph = Supergraph.build(supergraphSdl, { validateSupergraph: opts.validate, supportedFeatures: SUPPORTED_FEATURES });
  const apiSchema = supergraph.apiSchema();
  return {
    apiSchema,
    schema: apiSchema.toGraphQLJSSchema(),
    supergraphSchema: supergraph.schema.toGraphQLJSSchema(),
    planner: new QueryPlanner(supergraph),
    subgraphs: supergraph.subgraphsMetadata().map(({ name, url }) => ({ name, url })),
  };
}

/** The federation form of a validated operation and its plan; throws (a GraphQLError, usually) when it cannot be planned. */
export function planOperation(planning: Planning, document: DocumentNode, operationName: string | undefined): { operation: Operation; plan: QueryPlan } {
  const operation = operationFromDocument(planning.apiSchema, document, { operationName });
  return { operation, plan: planning.planner.buildQueryPlan(operation) };
}

/** The federation form of a validated operation (for shaping results), or `undefined`. */
export function operationOf(planning: Planning, document: DocumentNode, operationName: string | undefined): Operation | undefined {
  try {
    return operationFromDocument(planning.apiSchema, document, { operationName });
  } catch {
    return undefined;
  }
}

/** @apollo/gateway's shaping of merged subgraph data into the client's result. */
export function shapeResult(operation: Operation, variables: Record<string, unknown>, input: Record<string, unknown>): { data: Record<string, unknown> | null | undefined; errors: readonly GraphQLError[] } {
  return computeResponse({
    operation,
    variables,
    input,
    introspectionHandling: () => {
      throw new Error('introspection is left to the stock executor');
    },
  });
}

/** One subgraph call as the stock executor makes it. */
export type SubgraphCall = (subgraph: string, request: { query: string; operationName: string | undefined; variables: Record<string, unknown> }, context: GatewayContext) => Promise<{ data?: Record<string, unknown> | null; errors?: readonly GraphQLFormattedError[] }>;

/** A data source for the stock executor that calls subgraphs through `call` (the gateway's one subgraph client). */
function dataSource(subgraph: string, call: SubgraphCall): GraphQLDataSource {
  return {
    process: async ({ request, context }) => {
      const response = await call(subgraph, { query: request.query ?? '', operationName: request.operationName ?? undefined, variables: request.variables ?? {} }, context as unknown as GatewayContext);
      return { ...(response.data !== undefined ? { data: response.data } : {}), ...(response.errors ? { errors: response.errors as GraphQLFormattedError[] } : {}) } as Awaited<ReturnType<GraphQLDataSource['process']>>;
    },
  };
}

/** Service name of the synthetic fetch that hands a subscription event to the stock executor. */
const EVENT_SERVICE = '__subscription_event__';

export interface StockRun {
  readonly document: DocumentNode;
  readonly query: string;
  readonly operationName: string | undefined;
  readonly variables: Record<string, unknown>;
  readonly context: GatewayContext;
}

/**
 * Runs a plan on @apollo/gateway's executor (introspection, rewrites, @defer: what the gateway's
 * own executor does not run). With `event`, the plan's first fetch is answered by the event
 * instead of its subgraph: the rest of a subscription plan, resolved for one upstream event.
 */
export async function executeStock(
  planning: Planning,
  plan: QueryPlan,
  call: SubgraphCall,
  run: StockRun,
  event?: { readonly primary: FetchNode; readonly rest: PlanNode | undefined; readonly data: Record<string, unknown> | null; readonly errors?: readonly GraphQLFormattedError[] | undefined },
): Promise<{ data?: Record<string, unknown> | null; errors?: readonly GraphQLError[]; extensions?: Record<string, unknown> }> {
  const serviceMap: ServiceMap = Object.create(null) as ServiceMap;
  for (const { name } of planning.subgraphs) serviceMap[name] = dataSource(name, call);
  let queryPlan = plan;
  if (event) {
    serviceMap[EVENT_SERVICE] = {
      // A fresh copy per execution: the executor merges entity data into what this returns.
      process: async () => ({ data: structuredClone(event.data), ...(event.errors ? { errors: event.errors as GraphQLFormattedError[] } : {}) }),
    } as GraphQLDataSource;
    const eventFetch: FetchNode = { ...event.primary, serviceName: EVENT_SERVICE };
    queryPlan = { kind: 'QueryPlan', node: event.rest ? { kind: 'Sequence', nodes: [eventFetch, event.rest] } : eventFetch };
  }
  const operationContext = buildOperationContext({ schema: planning.schema, operationDocument: run.document, ...(run.operationName ? { operationName: run.operationName } : {}) });
  // The part of Apollo Server's request context the executor reads.
  const requestContext = {
    request: { query: run.query, variables: run.variables, operationName: run.operationName },
    document: run.document,
    operationName: run.operationName ?? null,
    context: run.context,
    logger: run.context.logger,
    metrics: {},
    cache: undefined,
    overallCachePolicy: undefined,
  };
  const result = await executeQueryPlan(queryPlan, serviceMap, requestContext as unknown as Parameters<typeof executeQueryPlan>[2], operationContext, planning.supergraphSchema, planning.apiSchema);
  return result as { data?: Record<string, unknown> | null; errors?: readonly GraphQLError[]; extensions?: Record<string, unknown> };
}
