import { STATUS_CODES } from 'node:http';
import { inSpan, SpanKind, traceFields } from '@shop/events';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import type { GraphQLFormattedError } from 'graphql';
import { CORRELATION_HEADER, ErrorCode, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import { GraphQLError } from '../graphql.js';
import type { GatewayContext } from '../context.js';
import type { GatewayMetrics } from '../metrics.js';
import { InFlight, callerKey, fetchKey, isShareableOperation } from './in-flight.js';
import type { IdentityRequirements } from './identity-requirements.js';
import { isUnavailableStatus, neverSent, ReplicaSet, type ReplicaUse } from './replicas.js';

/** What a subgraph answered: GraphQL's own response shape. */
export interface SubgraphResponse {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: readonly GraphQLFormattedError[];
}

export interface SubgraphOperation {
  readonly query: string;
  readonly operationName: string | undefined;
  readonly variables: Record<string, unknown>;
}

/**
 * The one HTTP client to subgraphs: every GraphQL fetch of every plan (the gateway's executor and
 * @apollo/gateway's alike) and every readiness probe goes through it, on one pooled keep-alive
 * agent (entity fetches reuse warm sockets instead of paying a TCP handshake each). Each fetch
 * carries the correlation id, and the caller's signed identity when its selection needs one
 * (`identity-requirements.ts`). Every outage is reported one way: transport failures and
 * non-GraphQL answers throw a GraphQLError with code `UPSTREAM_UNAVAILABLE`
 * (the subgraph in `serviceName`; the details go to the log). Identical reads in flight at once are
 * sent once and share the answer (`in-flight.ts`), unless switched off for the subgraph. A subgraph
 * may have several replicas: each fetch goes to one that is up (`replicas.ts`), and fails over once.
 */
export class SubgraphClient {
  readonly #agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  /** Each subgraph's replicas (its `/graphql` URLs) and which are up. */
  #replicas: ReadonlyMap<string, ReplicaSet> = new Map();
  /** Each replica URL's origin, path and metrics label, parsed once. */
  #targets: ReadonlyMap<string, { readonly origin: string; readonly path: string; readonly label: string }> = new Map();
  readonly #inFlight = new InFlight<{ status: number; text: string }>();
  #requirements: IdentityRequirements | undefined;
  #healthTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly identitySecret: string,
    private readonly metrics: GatewayMetrics,
    /** Subgraphs whose fetches are never shared (`*`: none are). */
    private readonly unsharedSubgraphs: readonly string[] = [],
  ) {}

  /**
   * The subgraphs and the `/graphql` URLs of their replicas (from the supergraph, each overridable by
   * configuration). A subgraph whose replicas are unchanged keeps what is known of their health.
   */
  route(urls: ReadonlyMap<string, readonly string[]>, requirements?: IdentityRequirements): void {
    this.#requirements = requirements;
    const previous = this.#replicas;
    this.#replicas = new Map(
      [...urls].map(([name, list]) => {
        const kept = previous.get(name);
        if (kept && kept.urls.join(',') === [...new Set(list)].join(',')) return [name, kept];
        return [name, new ReplicaSet(list, { onChange: (url, up) => this.metrics.replicaUp.set({ subgraph: name, replica: replicaLabel(url) }, up ? 1 : 0) })];
      }),
    );
    for (const [name, set] of previous) {
      if (this.#replicas.get(name) !== set) for (const url of set.urls) this.metrics.replicaUp.remove({ subgraph: name, replica: replicaLabel(url) });
    }
    this.#targets = new Map(
      [...urls.values()].flat().map((url) => {
        const u = new URL(url);
        return [url, { origin: u.origin, path: `${u.pathname}${u.search}`, label: replicaLabel(url) }];
      }),
    );
  }

  get subgraphs(): readonly string[] {
    return [...this.#replicas.keys()];
  }

  /** The `/graphql` URL of the subgraph's replica to use now (one that is up, when any is). */
  urlOf(subgraph: string, use: ReplicaUse = 'fetch'): string | undefined {
    return this.#replicas.get(subgraph)?.pick(undefined, use);
  }

  /** Every replica URL of the subgraph. */
  replicasOf(subgraph: string): readonly string[] {
    return this.#replicas.get(subgraph)?.urls ?? [];
  }

  /** A connection to a replica failed outside this client (an upstream WebSocket): it is down until a health check finds it up. */
  replicaFailed(subgraph: string, url: string): void {
    this.#replicas.get(subgraph)?.markDown(url);
  }

  /**
   * Checks every replica's `/readyz` every `intervalMs` (each check bounded by `timeoutMs`) and marks
   * it up or down by the answer.
   */
  startHealthChecks(intervalMs: number, timeoutMs: number): void {
    clearInterval(this.#healthTimer);
    let running = false;
    this.#healthTimer = setInterval(() => {
      if (running) return;
      running = true;
      void this.checkReplicas(timeoutMs).finally(() => {
        running = false;
      });
    }, intervalMs);
    this.#healthTimer.unref();
  }

  /** One round of health checks over every replica of every subgraph. */
  async checkReplicas(timeoutMs: number): Promise<void> {
    const checks = [...this.#replicas].flatMap(([, set]) => set.urls.map(async (url) => set.report(url, await this.#probe(url, '/readyz', timeoutMs))));
    await Promise.all(checks);
  }

  async #probe(url: string, path: string, timeoutMs: number): Promise<boolean> {
    try {
      const res = await undiciRequest(new URL(path, url), { dispatcher: this.#agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  async fetch(subgraph: string, operation: SubgraphOperation, context: GatewayContext): Promise<SubgraphResponse> {
    const replicas = this.#replicas.get(subgraph);
    if (!replicas) throw new GraphQLError(`The supergraph has no subgraph ${subgraph}.`, { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, serviceName: subgraph } });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      [CORRELATION_HEADER]: context.correlationId,
    };
    // A fetch that needs no identity (nothing @authenticated in it) goes without, so it is the same for every customer.
    const identity = context.identity && this.#requirements?.needsIdentity(operation.query) !== false ? context.identity : null;
    // signIdentity hands out the same value for a second, which subgraphs answer from their cache of verified values.
    if (identity) headers[IDENTITY_HEADER] = signIdentity(identity, this.identitySecret, subgraph);
    const body = JSON.stringify(operation.operationName ? operation : { query: operation.query, variables: operation.variables });
    const idempotent = isShareableOperation(operation.query);
    let status: number;
    let text: string;
    try {
      // A client span per request sent; its context goes to the subgraph as `traceparent`.
      const sendTo = (url: string) => {
        const target = this.#targets.get(url)!;
        this.metrics.replicaRequests.inc({ subgraph, replica: target.label });
        const done = replicas.begin(url);
        return inSpan(`POST ${subgraph}`, SpanKind.CLIENT, { 'http.request.method': 'POST', 'server.address': target.origin, 'shop.subgraph': subgraph }, () =>
          post(this.#agent, { origin: target.origin, path: target.path, method: 'POST', headers: Object.assign(headers, traceFields()), body }),
        ).finally(done);
      };
      const send = () => sendWithFailover(replicas, sendTo, idempotent, (url, reason) => context.logger.warn({ subgraph, replica: url, reason }, 'subgraph replica failed; trying another'));
      // The key leaves out the correlation id and `traceparent` (a shared request carries the first caller's; see fetchKey).
      // Each fetch parses the shared text itself: the executors merge into what they get, so no two may hold the same objects.
      const { promise, shared } = this.#shares(subgraph, operation.query) ? this.#inFlight.run(fetchKey(subgraph, callerKey(identity), body), send) : { promise: send(), shared: false };
      this.metrics.subgraphFetches.inc({ subgraph, outcome: shared ? 'shared' : 'sent' });
      ({ status, text } = await promise);
    } catch (err) {
      this.metrics.upstreamErrors.inc({ subgraph, kind: 'http' });
      context.logger.warn({ subgraph, err: (err as Error).message }, 'subgraph call failed');
      throw unavailable(subgraph);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // graphql-response+json answers 4xx with a GraphQL body for request errors: that body is the answer.
    if (parsed && typeof parsed === 'object' && ('data' in parsed || 'errors' in parsed)) {
      if (status >= 500) this.metrics.upstreamErrors.inc({ subgraph, kind: 'http' });
      return parsed as SubgraphResponse;
    }
    this.metrics.upstreamErrors.inc({ subgraph, kind: 'http' });
    context.logger.warn({ subgraph, status: `${status} ${STATUS_CODES[status] ?? ''}`.trim(), body: text.slice(0, 200) }, 'subgraph answered without a GraphQL response');
    throw unavailable(subgraph);
  }

  #shares(subgraph: string, query: string): boolean {
    return isShareableOperation(query) && !this.unsharedSubgraphs.includes(subgraph) && !this.unsharedSubgraphs.includes('*');
  }

  /** Whether some replica of the subgraph answers its `/healthz` with 200 (the gateway's readiness). */
  async healthy(subgraph: string): Promise<boolean> {
    const urls = this.replicasOf(subgraph);
    const answers = await Promise.all(urls.map((url) => this.#probe(url, '/healthz', 1_500)));
    return answers.some(Boolean);
  }

  async close(): Promise<void> {
    clearInterval(this.#healthTimer);
    await this.#agent.close().catch(() => undefined);
  }
}

type Answer = { status: number; text: string };

/**
 * Sends to the replica to use now; when it cannot be reached, or answers unavailable, marks it down
 * and tries once more on another. A request that may have reached the replica is tried again only
 * when it is idempotent (a query): a mutation is never sent twice.
 */
export async function sendWithFailover(
  replicas: ReplicaSet,
  sendTo: (url: string) => Promise<Answer>,
  idempotent: boolean,
  onFailover: (url: string, reason: string) => void,
): Promise<Answer> {
  const first = replicas.pick()!;
  let answer: Answer;
  try {
    answer = await sendTo(first);
  } catch (err) {
    replicas.markDown(first);
    const other = replicas.pick(first);
    if (!other || other === first || !(idempotent || neverSent(err))) throw err;
    onFailover(first, (err as Error).message);
    return sendTo(other);
  }
  if (!isUnavailableStatus(answer.status) || hasGraphQLBody(answer.text)) return answer;
  replicas.markDown(first);
  const other = replicas.pick(first);
  if (!other || other === first || !idempotent) return answer;
  onFailover(first, `HTTP ${answer.status}`);
  return sendTo(other);
}

/** Whether the body is a GraphQL response (an "unavailable" status with one is the subgraph's own answer). */
function hasGraphQLBody(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return !!parsed && typeof parsed === 'object' && ('data' in parsed || 'errors' in parsed);
  } catch {
    return false;
  }
}

/** A replica as metrics name it: its host and port (bounded: the configured replicas). */
function replicaLabel(url: string): string {
  return new URL(url).host;
}

/**
 * One request on undici's dispatcher interface, the body collected as it arrives: what
 * `undici.request` does without a Readable stream and its promise chain per response, a good part
 * of the cost of an entity fetch.
 */
function post(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const chunks: Buffer[] = [];
    dispatcher.dispatch(options, {
      onConnect: () => undefined,
      onHeaders: (statusCode) => {
        status = statusCode;
        return true;
      },
      onData: (chunk) => {
        chunks.push(chunk);
        return true;
      },
      onComplete: () => resolve({ status, text: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') }),
      onError: reject,
    });
  });
}

/** The same code a dropped subscription upstream gets: clients retry both alike. */
function unavailable(subgraph: string): GraphQLError {
  return new GraphQLError(`Subgraph ${subgraph} is unavailable.`, { extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, serviceName: subgraph } });
}
