import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { STATUS_CODES } from 'node:http';
import { Agent, request as undiciRequest } from 'undici';
import { CORRELATION_HEADER, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import type { GatewayContext } from './context.js';
import type { GatewayMetrics } from './metrics.js';

type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher']>;

/**
 * One pooled keep-alive agent for every subgraph call: entity fetches reuse warm sockets instead
 * of paying a TCP handshake per request.
 */
export function createSubgraphAgent(): Agent {
  return new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 128, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
}

/**
 * The fetch-shaped function RemoteGraphQLDataSource calls, on top of `undici.request`: it only
 * needs `ok`, `status`, `statusText`, `headers.get`, `json()` and `text()`, and skipping WHATWG
 * fetch's stream machinery is a good part of the per-call cost of an entity fetch.
 */
export function createSubgraphFetcher(agent: Agent): Fetcher {
  const fetcher = async (url: string, init: { method?: string; headers?: Record<string, string>; body?: string }) => {
    const res = await undiciRequest(url, {
      dispatcher: agent,
      method: (init.method ?? 'POST') as 'POST',
      headers: init.headers ?? {},
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    const text = await res.body.text();
    const headers = res.headers;
    return {
      ok: res.statusCode >= 200 && res.statusCode < 300,
      status: res.statusCode,
      statusText: STATUS_CODES[res.statusCode] ?? '',
      url,
      headers: {
        get(name: string): string | null {
          const v = headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        },
      },
      json: async () => JSON.parse(text) as unknown,
      text: async () => text,
    };
  };
  return fetcher as unknown as Fetcher;
}

export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext & Record<string, unknown>> {
  readonly #identitySecret: string;
  readonly #metrics: GatewayMetrics;

  constructor(opts: { name: string; url: string; agent: Agent; identitySecret: string; metrics: GatewayMetrics }) {
    super({ url: opts.url, fetcher: createSubgraphFetcher(opts.agent) });
    this.name = opts.name;
    this.#identitySecret = opts.identitySecret;
    this.#metrics = opts.metrics;
  }

  readonly name: string;

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext & Record<string, unknown>>): void {
    const headers = request.http?.headers;
    if (!headers) return;
    const ctx = context as Partial<GatewayContext> | undefined;
    if (ctx?.identity) headers.set(IDENTITY_HEADER, signIdentity(ctx.identity, this.#identitySecret, this.name));
    if (ctx?.correlationId) headers.set(CORRELATION_HEADER, ctx.correlationId);
  }

  override didEncounterError(error: Error, fetchRequest: Parameters<RemoteGraphQLDataSource['didEncounterError']>[1], fetchResponse?: Parameters<RemoteGraphQLDataSource['didEncounterError']>[2]): void {
    this.#metrics.upstreamErrors.inc({ subgraph: this.name, kind: 'http' });
    super.didEncounterError(error, fetchRequest, fetchResponse);
  }
}
