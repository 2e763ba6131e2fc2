import type { DocumentNode, ExecutionResult, GraphQLFormattedError, OperationDefinitionNode } from 'graphql';
import { ErrorCode, httpStatusOf } from '@shop/service-kit';
import { GraphQLError, NoSchemaIntrospectionCustomRule, getOperationAST, getVariableValues, specifiedRules } from '../graphql.js';
import type { GatewayContext } from '../context.js';
import type { ErrorFormatter } from '../error-masking.js';
import { checkComplexity, measureOperation, type Complexity, type ComplexityLimits } from '../limits.js';
import type { GatewayMetrics } from '../metrics.js';
import { checkVariableNames } from '../variable-names.js';
import { DocumentCache } from '../execution/document-cache.js';
import { isFast, PlanExecutor, type Planned } from '../execution/plan-executor.js';
import type { SubgraphClient } from '../execution/subgraph-client.js';
import { IdentityRequirements } from '../execution/identity-requirements.js';
import { ANY_CALLER, InFlight, callerKey, operationKey } from '../execution/in-flight.js';
import { FederatedSubscriptions, type PlannedSubscription } from '../subscriptions/federated.js';
import type { Membership, Subscriber } from '../subscriptions/fan-out.js';
import { buildPlanning, executeStock, planOperation, type Planning } from '../execution/apollo-federation.js';
import { PersistedQueries } from './persisted-queries.js';

export type Transport = 'http' | 'ws' | 'multipart';

/** A GraphQL request as every transport receives it, not yet checked. */
export interface OperationRequest {
  readonly query?: unknown;
  readonly operationName?: unknown;
  readonly variables?: unknown;
  readonly extensions?: unknown;
}

/** A request checked and planned: ready to execute (queries, mutations) or subscribe (subscriptions). */
export interface Prepared {
  readonly type: 'query' | 'mutation' | 'subscription';
  readonly document: DocumentNode;
  /** The first copy of the text seen (shared by everything that keeps it). */
  readonly query: string;
  readonly operationName: string | undefined;
  readonly variables: Record<string, unknown>;
  readonly transport: Transport;
  readonly planning: Planning;
  /** Queries and mutations. */
  readonly planned?: Planned & { readonly fast: boolean };
  /** Subscriptions. */
  readonly subscription?: PlannedSubscription;
}

/**
 * A refusal of `prepare`. `malformed`: the request is not a GraphQL request at all (its shape),
 * answered with its status whatever the client accepts; otherwise a GraphQL request error (parse,
 * validation, operation, variables, limits), which a client accepting only `application/json` gets
 * with status 200 (GraphQL over HTTP).
 */
export interface Refusal {
  readonly errors: readonly GraphQLError[];
  readonly malformed: boolean;
  readonly status: number;
}

/** What `execute` answers: a result ready to serialize (errors formatted), and whether execution itself failed. */
export interface Executed {
  readonly result: ExecutionResult<Record<string, unknown>, Record<string, unknown>>;
  /** The executor threw: the answer is one formatted error and no data (HTTP 500). */
  readonly failed: boolean;
}

export interface EngineOptions {
  readonly limits: ComplexityLimits;
  readonly production: boolean;
  /** `fast`: plans run by the gateway's executor where it can; `stock`: all by @apollo/gateway's (for comparison). */
  readonly executor: 'fast' | 'stock';
  readonly client: SubgraphClient;
  readonly metrics: GatewayMetrics;
  readonly formatError: ErrorFormatter;
  /** Subgraph URLs (one per replica) that replace the supergraph's routing URLs, by subgraph name. */
  readonly subgraphUrls: Readonly<Record<string, readonly string[]>>;
  readonly identitySecret: string;
  readonly upstreamRetryAttempts: number;
  /** Identical queries in flight at once run once and share the answer (inbound sharing). Default off. */
  readonly shareQueries?: boolean;
}

const refusal = (code: ErrorCode, message: string, malformed = false, extensions: Record<string, unknown> = {}): Refusal => ({
  errors: [new GraphQLError(message, { extensions: { ...extensions, code } })],
  malformed,
  status: httpStatusOf(code),
});

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The gateway's one GraphQL engine, for one supergraph at a time and every transport:
 * `prepare` (request shape, persisted queries, parse and validate, operation, variables, limits,
 * plan; documents and plans cached), `execute` (queries and mutations) and `subscribe`
 * (subscriptions, shared upstream). Transports only read requests and write answers; each
 * operation is counted here, once.
 */
export class Engine {
  readonly #opts: EngineOptions;
  readonly #documents: DocumentCache;
  readonly #persisted = new PersistedQueries();
  readonly #executor: PlanExecutor;
  readonly #plans = new WeakMap<DocumentNode, Map<string, { planning: Planning; planned: Planned & { fast: boolean } }>>();
  readonly #measures = new WeakMap<OperationDefinitionNode, { planning: Planning; measured: Complexity }>();
  #planning: Planning | undefined;
  /** Each supergraph's identity rules (a request prepared before a reload executes on its own). */
  readonly #requirements = new WeakMap<Planning, IdentityRequirements>();
  readonly #sharedQueries = new InFlight<Executed>();
  readonly subscriptions: FederatedSubscriptions;

  constructor(opts: EngineOptions) {
    this.#opts = opts;
    this.#documents = new DocumentCache(opts.production ? [...specifiedRules, NoSchemaIntrospectionCustomRule] : undefined);
    this.#executor = new PlanExecutor(opts.client, opts.metrics);
    this.subscriptions = new FederatedSubscriptions({
      planning: () => this.#planning,
      call: (subgraph, request, context) => opts.client.fetch(subgraph, request, context),
      wsUrlFor: (name) => {
        const url = opts.client.urlOf(name, 'subscription');
        return url ? wsUrlOf(url) : undefined;
      },
      replicaLost: (name, wsUrl) => opts.client.replicaFailed(name, httpUrlOf(wsUrl)),
      identitySecret: opts.identitySecret,
      metrics: opts.metrics,
      retryAttempts: opts.upstreamRetryAttempts,
      formatError: opts.formatError,
      events: opts.executor === 'fast' ? this.#executor : undefined,
    });
  }

  /** Whether a supergraph is loaded. */
  get ready(): boolean {
    return this.#planning !== undefined;
  }

  /** Loads a supergraph (at start, and on every change); the subgraphs and their URLs are its own. */
  load(supergraphSdl: string): void {
    const planning = buildPlanning(supergraphSdl, { validate: !this.#opts.production });
    const urls = new Map(planning.subgraphs.map(({ name, url }) => [name, (this.#opts.subgraphUrls[name] ?? [url]).map((u) => subgraphUrl(name, u))]));
    const requirements = new IdentityRequirements(planning.supergraphSchema);
    this.#requirements.set(planning, requirements);
    this.#opts.client.route(urls, requirements);
    this.#planning = planning;
  }

  prepare(request: OperationRequest, transport: Transport): Prepared | Refusal {
    const { metrics } = this.#opts;
    const refused = this.#prepare(request, transport);
    if ('errors' in refused) metrics.requests.inc({ type: 'unknown', transport, outcome: 'refused' });
    return refused;
  }

  #prepare(request: OperationRequest, transport: Transport): Prepared | Refusal {
    const { query: text, operationName, variables, extensions } = request;
    if (text !== undefined && text !== null && typeof text !== 'string') return refusal(ErrorCode.BAD_REQUEST, '`query` must be a string.', true);
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return refusal(ErrorCode.BAD_REQUEST, '`operationName` must be a string.', true);
    if (variables !== undefined && variables !== null && !isObject(variables)) return refusal(ErrorCode.BAD_REQUEST, '`variables` must be an object.', true);
    if (extensions !== undefined && extensions !== null && !isObject(extensions)) return refusal(ErrorCode.BAD_REQUEST, '`extensions` must be an object.', true);

    let query = typeof text === 'string' && text !== '' ? text : undefined;
    const persisted = extensions?.persistedQuery;
    if (persisted !== undefined) {
      if (!isObject(persisted) || persisted.version !== 1 || typeof persisted.sha256Hash !== 'string') return refusal(ErrorCode.BAD_REQUEST, 'Unsupported persisted query version or shape.', true);
      if (query === undefined) {
        query = this.#persisted.get(persisted.sha256Hash);
        if (query === undefined) return refusal(ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound');
      } else if (!this.#persisted.put(persisted.sha256Hash, query)) {
        return refusal(ErrorCode.BAD_REQUEST, 'provided sha does not match query', true);
      }
    }
    if (query === undefined) return refusal(ErrorCode.BAD_REQUEST, 'GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.', true);

    const planning = this.#planning;
    if (!planning) return refusal(ErrorCode.SERVICE_UNAVAILABLE, 'The gateway is not ready yet.', true);
    const checked = this.#documents.check(planning.schema, query);
    if ('errors' in checked) return { errors: checked.errors, malformed: false, status: 400 };
    const { document } = checked;
    const name = operationName ?? undefined;
    const operation = getOperationAST(document, name);
    if (!operation) {
      const message = name ? `Unknown operation named "${name}".` : 'Must provide operation name if query contains multiple operations.';
      return refusal(ErrorCode.OPERATION_RESOLUTION_FAILURE, message);
    }
    const vars = (variables ?? {}) as Record<string, unknown>;
    const inputError = this.#checkInput(planning, document, operation, vars);
    if (inputError) return inputError;

    const base = { type: operation.operation, document, query: checked.query, operationName: name, variables: vars, transport, planning };
    if (operation.operation === 'subscription') {
      const planned = this.subscriptions.plan({ document, query: checked.query, operationName: name, variables: vars });
      if (!('node' in planned)) return { errors: planned, malformed: false, status: 400 };
      return { ...base, subscription: planned };
    }
    const planned = this.#plan(planning, document, name);
    if (planned instanceof GraphQLError) return { errors: [planned], malformed: false, status: 400 };
    return { ...base, planned };
  }

  /** Variable names, values and the complexity limits: refused before anything is planned or sent. */
  #checkInput(planning: Planning, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): Refusal | undefined {
    const badName = checkVariableNames(operation, variables);
    if (badName) return { errors: [badName], malformed: false, status: 400 };
    const coerced = getVariableValues(planning.schema, operation.variableDefinitions ?? [], variables, { maxErrors: 5 });
    if (coerced.errors) return { errors: coerced.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes ?? null, extensions: { code: ErrorCode.BAD_USER_INPUT } })), malformed: false, status: 400 };
    const tooComplex = checkComplexity(this.#measure(planning, document, operation, variables), this.#opts.limits);
    if (tooComplex) {
      this.#opts.metrics.refusals.inc({ reason: String(tooComplex.extensions.limit) });
      return { errors: [tooComplex], malformed: false, status: httpStatusOf(ErrorCode.QUERY_TOO_COMPLEX) };
    }
    return undefined;
  }

  /** The operation's complexity, measured once when no variable sizes it (most operations). */
  #measure(planning: Planning, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): Complexity {
    const cached = this.#measures.get(operation);
    if (cached?.planning === planning) return cached.measured;
    const measured = measureOperation(planning.schema, document, operation, variables);
    if (!measured.readVariables) this.#measures.set(operation, { planning, measured });
    return measured;
  }

  /** The plan of a query or mutation, cached per parsed document, operation name and supergraph. */
  #plan(planning: Planning, document: DocumentNode, operationName: string | undefined): (Planned & { fast: boolean }) | GraphQLError {
    let byName = this.#plans.get(document);
    if (!byName) {
      byName = new Map();
      this.#plans.set(document, byName);
    }
    const cached = byName.get(operationName ?? '');
    if (cached?.planning === planning) return cached.planned;
    try {
      const { operation, plan } = planOperation(planning, document, operationName);
      const planned = { operation, plan, fast: this.#opts.executor === 'fast' && isFast(document, plan) };
      byName.set(operationName ?? '', { planning, planned });
      return planned;
    } catch (err) {
      return err instanceof GraphQLError ? err : new GraphQLError((err as Error).message, { extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } });
    }
  }

  /**
   * Runs a prepared query or mutation. A query identical to one already running (`#shareKey`) waits
   * for that one's answer instead of running again; each is still counted as its own request.
   */
  async execute(prepared: Prepared, context: GatewayContext): Promise<Executed> {
    const { metrics } = this.#opts;
    const started = process.hrtime.bigint();
    const key = this.#shareKey(prepared, context);
    let executed: Executed;
    if (key === undefined) {
      executed = await this.#execute(prepared, context);
    } else {
      const { promise, shared } = this.#sharedQueries.run(key, () => this.#execute(prepared, context));
      metrics.inboundQueries.inc({ outcome: shared ? 'shared' : 'executed' });
      executed = await promise;
    }
    const labels = { type: prepared.type, transport: prepared.transport };
    metrics.requests.inc({ ...labels, outcome: executed.result.errors?.length ? 'error' : 'ok' });
    metrics.latency.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    return executed;
  }

  /**
   * Where a query may share another's execution: queries only (never a mutation), keyed on the whole
   * operation, and on the caller too when any fetch of its plan carries the caller's identity (the
   * only way an answer can differ between callers); `undefined`: it runs on its own.
   */
  #shareKey(prepared: Prepared, context: GatewayContext): string | undefined {
    if (!this.#opts.shareQueries || prepared.type !== 'query' || !prepared.planned) return undefined;
    const requirements = this.#requirements.get(prepared.planning);
    if (!requirements) return undefined;
    const caller = requirements.planNeedsIdentity(prepared.planned.plan) ? callerKey(context.identity) : ANY_CALLER;
    return operationKey(caller, prepared.operationName, prepared.variables, prepared.query);
  }

  /** Runs the plan; never throws (a failure is the answer, shared like any other). */
  async #execute(prepared: Prepared, context: GatewayContext): Promise<Executed> {
    const { metrics, formatError } = this.#opts;
    let executed: Executed;
    try {
      const planned = prepared.planned;
      if (!planned) throw new Error('execute() is for queries and mutations');
      let outcome: { data?: Record<string, unknown> | null; errors?: readonly GraphQLError[]; extensions?: Record<string, unknown> };
      if (planned.fast) {
        outcome = await this.#executor.run(prepared.planning, planned, prepared.variables, context);
      } else {
        metrics.plansExecuted.inc({ executor: 'stock' });
        outcome = await executeStock(prepared.planning, planned.plan, (subgraph, request, ctx) => this.#opts.client.fetch(subgraph, request, ctx), { ...prepared, context });
      }
      const errors = outcome.errors?.length ? outcome.errors.map((e) => formatError(normalized(e))) : undefined;
      executed = { result: { ...(errors ? { errors: errors as unknown as GraphQLError[] } : {}), data: outcome.data ?? null, ...(outcome.extensions ? { extensions: outcome.extensions } : {}) }, failed: false };
    } catch (err) {
      context.logger.error({ err }, 'query execution failed');
      const error = err instanceof GraphQLError ? err : new GraphQLError((err as Error).message);
      executed = { result: { errors: [formatError(normalized(error)) as unknown as GraphQLError] }, failed: true };
    }
    return executed;
  }

  /** Subscribes one client that takes its events as they come; returns its membership, to leave with. */
  subscribe(prepared: Prepared, context: GatewayContext, subscriber: Subscriber): Membership {
    if (!prepared.subscription || prepared.transport === 'http') throw new Error('subscribe() is for subscriptions over ws or multipart');
    this.#opts.metrics.requests.inc({ type: 'subscription', transport: prepared.transport, outcome: 'ok' });
    return this.subscriptions.attach(prepared.subscription, context, prepared.transport, subscriber);
  }

  /** Subscribes one client through an iterator (multipart); `return()` leaves. */
  stream(prepared: Prepared, context: GatewayContext): AsyncIterableIterator<ExecutionResult> {
    if (!prepared.subscription) throw new Error('stream() is for subscriptions');
    this.#opts.metrics.requests.inc({ type: 'subscription', transport: prepared.transport, outcome: 'ok' });
    return this.subscriptions.subscribe(prepared.subscription, context, 'multipart');
  }

  /** Closes every upstream subscription (shutdown). */
  close(): void {
    this.subscriptions.closeAll();
  }
}

/** Every error has a code (INTERNAL_SERVER_ERROR when none). */
function normalized(error: GraphQLError): GraphQLFormattedError {
  const formatted = error.toJSON();
  return { ...formatted, extensions: { ...formatted.extensions, code: formatted.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR } };
}

/** A subgraph's URL, checked: a wrong `<NAME>_URL` stops the gateway at start with the variable named. */
function subgraphUrl(name: string, url: string): string {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new Error(`gateway: invalid configuration\n  ${name.toUpperCase()}_URL: expected an http(s) URL, got ${url}`);
  return new URL(url).toString();
}

function wsUrlOf(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function httpUrlOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.toString();
}
