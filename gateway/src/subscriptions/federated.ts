import type { FetchNode, PlanNode, SubscriptionNode } from '@apollo/query-planner';
import type { DocumentNode, ExecutionResult, GraphQLFormattedError } from 'graphql';
import { GraphQLError } from '../graphql.js';
import { CORRELATION_HEADER, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import { identityKey, type GatewayContext } from '../context.js';
import type { GatewayMetrics } from '../metrics.js';
import type { PlanExecutor } from '../execution/plan-executor.js';
import { executeStock, planOperation, type Planning, type SubgraphCall } from '../execution/apollo-federation.js';
import { formatResult, type ErrorFormatter } from '../error-masking.js';
import { FanOutGroup, ResolvedEvent, type Membership, type Subscriber } from './fan-out.js';
import { Pushable } from './pushable.js';
import { SubscriptionRegistry } from './registry.js';
import { resumableFields, type ResumableField } from './resumable.js';
import { resumableOf, startUpstreamSubscription } from './upstream.js';
import { createUpstreamConnections, type UpstreamConnections } from './upstream-connections.js';
import { ErrorCode } from '@shop/service-kit';

type UpstreamEvent = ExecutionResult<Record<string, unknown>, unknown>;

/** Events kept for late joiners of a resumable stream (an order has a handful of status changes). */
const REPLAY_LIMIT = 1_000;

interface SharedGroup {
  readonly key: string;
  readonly group: FanOutGroup;
  /** Leaves the shared upstream subscription. */
  readonly release: () => void;
}

export interface SubscriptionRequest {
  readonly document: DocumentNode;
  /** The client's operation text (a sharing key for resolved results). */
  readonly query: string;
  readonly operationName?: string | undefined;
  readonly variables: Record<string, unknown>;
}

export interface PlannedSubscription {
  readonly request: SubscriptionRequest;
  readonly node: SubscriptionNode;
  /** The supergraph it was planned on. */
  readonly planning: Planning;
}

export interface FederatedSubscriptionsOptions {
  /** The current supergraph's planning (undefined until one is loaded). */
  readonly planning: () => Planning | undefined;
  /** Subgraph calls of the stock executor (the gateway's one subgraph client). */
  readonly call: SubgraphCall;
  /** The WebSocket URL of the subgraph's replica to use now, by subgraph name. */
  readonly wsUrlFor: (subgraph: string) => string | undefined;
  /** An upstream connection to this replica was lost or refused. */
  readonly replicaLost?: (subgraph: string, wsUrl: string) => void;
  readonly identitySecret: string;
  readonly metrics: GatewayMetrics;
  readonly retryAttempts: number;
  readonly retryBaseDelayMs?: number;
  /** Resolves an event's `rest` with the gateway's own executor; the stock one is used when it declines. */
  readonly events?: Pick<PlanExecutor, 'resolveEvent'> | undefined;
  /** Applied to every error a client gets (events, refusals, upstream failures). */
  readonly formatError: ErrorFormatter;
}

const stable = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );

/**
 * Federated subscriptions on top of ApolloGateway, which plans them (a `SubscriptionNode` with
 * `primary` and `rest`) but refuses to execute them:
 *  - `primary` runs as a graphql-ws subscription to its subgraph, shared by every client with the
 *    same subgraph operation, variables and identity (`SubscriptionRegistry`);
 *  - for each event, `rest` (entity fetches into other subgraphs) runs on the gateway's executor
 *    (or the stock one, for plans it does not run), with the event in place of `primary`, so
 *    result shaping, rewrites and error paths are exactly the stock gateway's;
 *  - streams the subgraph declares resumable (resumable.ts) are resubscribed after the last event
 *    delivered, and replayed to late joiners;
 *  - identical client operations share the resolved result of an event.
 */
export class FederatedSubscriptions {
  readonly #opts: FederatedSubscriptionsOptions;
  readonly #registry = new SubscriptionRegistry<UpstreamEvent>();
  /** One graphql-ws connection per subgraph, shared by every upstream subscription. */
  readonly #connections: UpstreamConnections;
  /** Plans by supergraph and operation. */
  #plans = new WeakMap<Planning, Map<string, SubscriptionNode>>();
  /** Resumable fields by supergraph. */
  #resumable = new WeakMap<Planning, ReadonlyMap<string, ResumableField>>();
  /** Subscribers by upstream subscription and client operation. */
  readonly #groups = new Map<string, SharedGroup>();
  /** Upstream subscribe calls made so far (for tests and metrics). */
  upstreamStarts = 0;

  constructor(opts: FederatedSubscriptionsOptions) {
    this.#opts = opts;
    // The shared connections speak for the gateway itself (an anonymous caller signed for the subgraph);
    // each subscription names its own caller.
    this.#connections = createUpstreamConnections({
      connectionParams: (subgraph) => ({ [IDENTITY_HEADER]: signIdentity(null, opts.identitySecret, subgraph), [CORRELATION_HEADER]: 'gateway' }),
      ...(opts.replicaLost ? { onLost: opts.replicaLost } : {}),
    });
  }

  /** Live shared upstream subscriptions. */
  get upstreamCount(): number {
    return this.#registry.size;
  }

  /** Plans a validated subscription operation; GraphQL errors for anything the planner refuses. */
  plan(request: SubscriptionRequest): PlannedSubscription | readonly GraphQLError[] {
    const planning = this.#opts.planning();
    if (!planning) return [new GraphQLError('The gateway is not ready yet.', { extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } })];
    let cache = this.#plans.get(planning);
    if (!cache) {
      cache = new Map();
      this.#plans.set(planning, cache);
    }
    const key = `${request.operationName ?? ''}\u0000${request.query}`;
    let node = cache.get(key);
    if (!node) {
      let plan;
      try {
        plan = planOperation(planning, request.document, request.operationName).plan;
      } catch (err) {
        return [err instanceof GraphQLError ? err : new GraphQLError((err as Error).message, { extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } })];
      }
      if (plan.node?.kind !== 'Subscription') {
        return [new GraphQLError('Expected a subscription operation.', { extensions: { code: ErrorCode.BAD_USER_INPUT } })];
      }
      node = plan.node;
      if (cache.size > 1_000) cache.clear();
      cache.set(key, node);
    }
    return { request, node, planning };
  }

  #resumableFields(planning: Planning): ReadonlyMap<string, ResumableField> {
    let fields = this.#resumable.get(planning);
    if (!fields) {
      fields = resumableFields(planning.schema);
      this.#resumable.set(planning, fields);
    }
    return fields;
  }

  /**
   * Subscribes one client through an iterator (multipart HTTP, tests): it yields one shaped result
   * per upstream event and ends after an error result when the upstream cannot be kept; `return()`
   * leaves at once.
   */
  subscribe(planned: PlannedSubscription, context: GatewayContext, transport: 'ws' | 'multipart'): AsyncIterableIterator<ExecutionResult> {
    const out = new Pushable<ExecutionResult>();
    const membership = this.attach(planned, context, transport, { deliver: (event) => out.push(event.result), end: () => out.end() });
    out.onEnd(() => membership.leave());
    return out;
  }

  /**
   * Subscribes one client that takes its events as they come (`subscriber.deliver`, in event
   * order, then `end`); returns its membership, to leave with. Subscribers of the same upstream
   * subscription with the same operation share one group: each event is resolved and serialized
   * once for all of them.
   */
  attach(planned: PlannedSubscription, context: GatewayContext, transport: 'ws' | 'multipart', subscriber: Subscriber): Membership {
    const { primary } = planned.node;
    const membership = new GroupMembership(this.#opts.metrics, transport, subscriber, this.#opts.formatError);
    const wsUrl = this.#opts.wsUrlFor(primary.serviceName);
    if (!wsUrl) return membership.refuse(new GraphQLError(`No WebSocket URL for subgraph ${primary.serviceName}.`));
    const primaryVariables: Record<string, unknown> = {};
    for (const name of primary.variableUsages ?? []) {
      if (planned.request.variables[name] !== undefined) primaryVariables[name] = planned.request.variables[name];
    }
    const upstreamKey = [primary.serviceName, primary.operation, stable(primaryVariables), identityKey(context.identity)].join('\u0000');
    const groupKey = [upstreamKey, planned.request.operationName ?? '', planned.request.query, stable(planned.request.variables)].join('\u0000');

    let shared = this.#groups.get(groupKey);
    if (!shared) {
      try {
        shared = this.#startGroup(groupKey, upstreamKey, wsUrl, planned, primaryVariables, context);
      } catch (err) {
        return membership.refuse(toError(err));
      }
    }
    // Only the group is kept from here: the keys built above are long and the group holds them already.
    return membership.join(shared, this.#groups);
  }

  #startGroup(
    groupKey: string,
    upstreamKey: string,
    wsUrl: string,
    planned: PlannedSubscription,
    primaryVariables: Record<string, unknown>,
    context: GatewayContext,
  ): SharedGroup {
    const { primary, rest } = planned.node;
    const { metrics } = this.#opts;
    const resumableFieldsOf = this.#resumableFields(planned.planning);
    const resumable = resumableOf(primary.operation, resumableFieldsOf) !== undefined;
    const group = new FanOutGroup(
      resumable ? REPLAY_LIMIT : 0,
      () => {
        if (this.#groups.get(groupKey) === shared) this.#groups.delete(groupKey);
      },
      (_subscribers, seconds) => metrics.fanOut.observe(seconds),
    );
    const release = this.#registry.acquire(
      upstreamKey,
      {
        next: (event) => group.enqueue(this.#formatted(this.#execute(event, planned, primary, rest, context))),
        error: (errors) => group.enqueue(this.#formatted(Promise.resolve({ errors: errors.map(fromFormatted) })), true),
        complete: () => group.enqueue(Promise.resolve(undefined), true),
      },
      {
        replayLimit: resumable ? REPLAY_LIMIT : 0,
        start: (emit) => {
          this.upstreamStarts++;
          const subgraph = primary.serviceName;
          metrics.activeUpstreamSubscriptions.inc({ subgraph });
          const identity = context.identity;
          const correlationId = context.correlationId;
          const source = startUpstreamSubscription(
            {
              subgraph,
              connection: this.#connections.follow(subgraph, wsUrl, () => this.#opts.wsUrlFor(subgraph)),
              operation: primary.operation,
              operationName: primary.operationName,
              variables: primaryVariables,
              resumable: resumableFieldsOf,
              retryAttempts: this.#opts.retryAttempts,
              ...(this.#opts.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: this.#opts.retryBaseDelayMs } : {}),
              // Signed for anonymous callers too: the subgraph checks each operation's caller.
              headers: () => ({
                [IDENTITY_HEADER]: signIdentity(identity, this.#opts.identitySecret, subgraph),
                [CORRELATION_HEADER]: correlationId,
              }),
              onDrop: (reason) => {
                metrics.upstreamErrors.inc({ subgraph, kind: 'ws_drop' });
                context.logger.warn({ subgraph, reason }, 'upstream subscription dropped');
              },
              onRetry: (attempt, reason) => context.logger.info({ subgraph, attempt, reason }, 'resubscribing upstream'),
            },
            emit,
          );
          return {
            close: () => {
              metrics.activeUpstreamSubscriptions.dec({ subgraph });
              source.close();
            },
          };
        },
      },
    );
    const shared: SharedGroup = { key: groupKey, group, release };
    this.#groups.set(groupKey, shared);
    return shared;
  }

  /** The result as clients may see it; a failure becomes an error result (masked in production like any other). */
  #formatted(pending: Promise<ExecutionResult>): Promise<ExecutionResult> {
    const { formatError } = this.#opts;
    return pending.then(
      (result) => formatResult(result, formatError),
      (err: unknown) => formatResult({ errors: [toError(err)] }, formatError),
    );
  }

  /** Closes every upstream subscription (shutdown). */
  closeAll(): void {
    this.#registry.closeAll();
    this.#connections.dispose();
  }

  async #execute(event: UpstreamEvent, planned: PlannedSubscription, primary: FetchNode, rest: PlanNode | undefined, context: GatewayContext): Promise<ExecutionResult> {
    const { request, planning } = planned;
    const data = (event.data ?? null) as Record<string, unknown> | null;
    const errors = event.errors as readonly GraphQLFormattedError[] | undefined;
    const fast = await this.#opts.events?.resolveEvent(planning, {
      document: request.document,
      operationName: request.operationName,
      variables: request.variables,
      primary,
      rest,
      event: { data, ...(errors ? { errors } : {}) },
      context,
    });
    const result =
      fast ??
      (await executeStock(
        planning,
        { kind: 'QueryPlan' },
        this.#opts.call,
        { document: request.document, query: request.query, operationName: request.operationName, variables: request.variables, context },
        { primary, rest, data, errors },
      ));
    return { data: result.data ?? null, ...(result.errors?.length ? { errors: result.errors.map(withoutHttp) } : {}) } as ExecutionResult;
  }
}

function toError(err: unknown): GraphQLError {
  if (err instanceof GraphQLError) return err;
  return new GraphQLError(err instanceof Error ? err.message : String(err), { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } });
}

/** `extensions.http` is a subgraph's hint for its own HTTP status (its Apollo Server's); clients never see it. */
function stripHttp(extensions: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | undefined {
  if (!extensions || !('http' in extensions)) return extensions as Record<string, unknown> | undefined;
  const { http: _http, ...rest } = extensions;
  return rest;
}

function withoutHttp(e: GraphQLError): GraphQLError {
  if (!e.extensions || !('http' in e.extensions)) return e;
  return new GraphQLError(e.message, { nodes: e.nodes ?? null, path: e.path ?? null, originalError: e.originalError ?? null, extensions: stripHttp(e.extensions) ?? {} });
}

function fromFormatted(e: GraphQLFormattedError): GraphQLError {
  const extensions = stripHttp(e.extensions);
  return new GraphQLError(e.message, { ...(e.path ? { path: e.path } : {}), ...(extensions ? { extensions } : {}) });
}

/**
 * One subscriber's place in a group. A class, not closures: at 10,000 subscribers every closure
 * made per subscriber counts (and tsx gives each named one its own `name` property).
 */
class GroupMembership implements Membership {
  #left = false;
  #group: SharedGroup | undefined;
  #groups: Map<string, SharedGroup> | undefined;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly transport: 'ws' | 'multipart',
    private readonly subscriber: Subscriber,
    private readonly formatError: ErrorFormatter,
  ) {
    metrics.activeSubscriptions.inc({ transport });
  }

  /** Ends the subscriber at once with an error. */
  refuse(error: GraphQLError): Membership {
    this.subscriber.deliver(new ResolvedEvent(formatResult({ errors: [error] }, this.formatError)));
    this.subscriber.end();
    return this;
  }

  join(group: SharedGroup, groups: Map<string, SharedGroup>): Membership {
    this.#group = group;
    this.#groups = groups;
    group.group.join(this.subscriber);
    return this;
  }

  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.metrics.activeSubscriptions.dec({ transport: this.transport });
    const shared = this.#group;
    if (shared?.group.leave(this.subscriber)) {
      if (this.#groups?.get(shared.key) === shared) this.#groups.delete(shared.key);
      shared.release();
    }
  }
}
