import { STATUS_CODES } from 'node:http';
import type { Agent } from 'undici';
import { request as undiciRequest } from 'undici';
import type { GraphQLFormattedError } from 'graphql';
import { CORRELATION_HEADER, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import { GraphQLError } from '../graphql.js';
import type { GatewayContext } from '../context.js';
import type { GatewayMetrics } from '../metrics.js';
import { ErrorCode } from '@shop/service-kit';

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
 * Subgraph calls of the query path: one POST per fetch on the pooled keep-alive agent, with the
 * caller's signed identity and the correlation id. Transport failures and non-GraphQL answers
 * throw a GraphQLError with code `UPSTREAM_UNAVAILABLE` (the subgraph name in `serviceName`).
 */
export class SubgraphClient {
  constructor(
    private readonly agent: Agent,
    private readonly identitySecret: string,
    private readonly metrics: GatewayMetrics,
  ) {}

  async fetch(subgraph: string, url: string, operation: SubgraphOperation, context: GatewayContext): Promise<SubgraphResponse> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      [CORRELATION_HEADER]: context.correlationId,
    };
    // signIdentity hands out the same value for a second, which subgraphs answer from their cache of verified values.
    if (context.identity) headers[IDENTITY_HEADER] = signIdentity(context.identity, this.identitySecret, subgraph);
    const body = JSON.stringify(operation.operationName ? operation : { query: operation.query, variables: operation.variables });
    let status: number;
    let text: string;
    try {
      const res = await undiciRequest(url, { dispatcher: this.agent, method: 'POST', headers, body });
      status = res.statusCode;
      text = await res.body.text();
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
}

/** The same code a dropped subscription upstream gets: clients retry both alike. Details go to the log only. */
function unavailable(subgraph: string): GraphQLError {
  return new GraphQLError(`Subgraph ${subgraph} is unavailable.`, { extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, serviceName: subgraph } });
}
