// `@shop/service-kit/subgraph`: what only subgraph services need (Apollo subgraph server, Kafka and
// Redis wiring). Kept off the package root so the gateway does not load Kafka and pub/sub code.
export { startSubgraphServer, createErrorFormatter, type SubgraphServerOptions, type RunningServer } from './subgraph-server.js';
export { startSubgraphService, type ServiceRuntime, type StartSubgraphServiceOptions, type SubgraphService } from './service-runtime.js';
