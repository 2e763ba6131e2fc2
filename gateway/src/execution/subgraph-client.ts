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
 * sent once and share the answer (`in-flight.ts`), unless switched off for the subgraph.
 */
export class SubgraphClient {
  readonly #agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  #urls: ReadonlyMap<string, string> = new Map();
  /** Each URL's origin and path, parsed once. */
  #targets: ReadonlyMap<string, { readonly origin: string; readonly path: string }> = new Map();
  readonly #inFlight = new InFlight<{ status: number; text: string }>();
  #requirements: IdentityRequirements | undefined;

  constructor(
    private readonly identitySecret: string,
    private readonly metrics: GatewayMetrics,
    /** Subgraphs whose fetches are never shared (`*`: none are). */
    private readonly unsharedSubgraphs: readonly string[] = [],
  ) {}

  /** The subgraphs and their `/graphql` URLs (from the supergraph, each overridable by configuration). */
  route(urls: ReadonlyMap<string, string>, requirements?: IdentityRequirements): void {
    this.#urls = urls;
    this.#requirements = requirements;
    this.#targets = new Map(
      [...urls].map(([name, url]) => {
        const u = new URL(url);
        return [name, { origin: u.origin, path: `${u.pathname}${u.search}` }];
      }),
    );
  }

  get subgraphs(): readonly string[] {
    return [...this.#urls.keys()];
  }

  urlOf(subgraph: string): string | undefined {
    return this.#urls.get(subgraph);
  }

  async fetch(subgraph: string, operation: SubgraphOperation, context: GatewayContext): Promise<SubgraphResponse> {
    const target = this.#targets.get(subgraph);
    if (!target) throw new GraphQLError(`The supergraph has no subgraph ${subgraph}.`, { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, serviceName: subgraph } });
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
    let status: number;
    let text: string;
    try {
      // A client span per request sent; its context goes to the subgraph as `traceparent`.
      const send = () =>
        inSpan(`POST ${subgraph}`, SpanKind.CLIENT, { 'http.request.method': 'POST', 'server.address': target.origin, 'shop.subgraph': subgraph }, () =>
          post(this.#agent, { origin: target.origin, path: target.path, method: 'POST', headers: Object.assign(headers, traceFields()), body }),
        );
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

  /** Whether the subgraph answers its `/healthz` with 200 (readiness). */
  async healthy(subgraph: string): Promise<boolean> {
    const url = this.#urls.get(subgraph);
    if (!url) return false;
    const res = await undiciRequest(new URL('/healthz', url), { dispatcher: this.#agent, headersTimeout: 1_500, bodyTimeout: 1_500 });
    await res.body.dump();
    return res.statusCode === 200;
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => undefined);
  }
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
