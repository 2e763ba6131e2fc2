import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics, on their own registry so tests and replicas never collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'gateway_requests_total',
      // Bounded labels only: an operation name is the client's to choose, one series per name would be unbounded.
      help: 'GraphQL operations by type, transport and outcome (ok, error, refused before execution)',
      labelNames: ['type', 'transport', 'outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Latency of GraphQL queries and mutations by type and transport',
      labelNames: ['type', 'transport'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    activeSubscriptions: new Gauge({
      name: 'gateway_active_subscriptions',
      help: 'Client subscriptions being served (graphql-ws and multipart)',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    activeUpstreamSubscriptions: new Gauge({
      name: 'gateway_active_upstream_subscriptions',
      help: 'Subscriptions the gateway holds open to subgraphs (shared between clients)',
      labelNames: ['subgraph'] as const,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'gateway_upstream_errors_total',
      help: 'Failed calls and dropped subscriptions to subgraphs',
      labelNames: ['subgraph', 'kind'] as const,
      registers: [registry],
    }),
    replicaUp: new Gauge({
      name: 'gateway_subgraph_replica_up',
      help: 'Whether the gateway counts a subgraph replica as up (1) or down (0): its health checks and failed calls decide',
      labelNames: ['subgraph', 'replica'] as const,
      registers: [registry],
    }),
    replicaRequests: new Counter({
      name: 'gateway_subgraph_replica_requests_total',
      help: 'HTTP fetches sent to each subgraph replica (retries on another replica included)',
      labelNames: ['subgraph', 'replica'] as const,
      registers: [registry],
    }),
    subgraphFetches: new Counter({
      name: 'gateway_subgraph_fetches_total',
      help: 'Subgraph query and mutation fetches by outcome: sent, or shared with an identical fetch already in flight',
      labelNames: ['subgraph', 'outcome'] as const,
      registers: [registry],
    }),
    inboundQueries: new Counter({
      name: 'gateway_inbound_queries_total',
      help: 'Client queries by outcome: executed, or shared with an identical query (same caller where it matters) already in flight',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    fanOut: new Histogram({
      name: 'gateway_fanout_seconds',
      help: 'Time to write one subscription event to every client of a group (same operation on one upstream subscription)',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    plansExecuted: new Counter({
      name: 'gateway_query_plans_executed_total',
      help: "Query plans of queries and mutations by executor: the gateway's own (fast) or @apollo/gateway's (stock)",
      labelNames: ['executor'] as const,
      registers: [registry],
    }),
    wsConnections: new Gauge({ name: 'gateway_ws_connections', help: 'Open graphql-ws connections', registers: [registry] }),
    refusals: new Counter({
      name: 'gateway_refusals_total',
      help: 'Requests refused by a limit or by authentication',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof createMetrics>;
