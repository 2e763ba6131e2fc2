/**
 * Hive Gateway (`@graphql-hive/gateway`, pinned in this folder's package.json) as a peer of
 * `bench/gateway.ts`, in its own process and its own dependencies: nothing of it reaches the
 * product's. Run with its defaults (in-flight deduplication of subgraph requests included), with
 * HIVE_ROUTER_RUNTIME=true on Hive Router's Rust runtime (`@graphql-hive/router-runtime`), and with
 * HIVE_DEDUP=false without that deduplication (its HTTP transport's `deduplicateInflightRequests`).
 *
 * Like the stock @apollo/gateway baseline (bench/lib/stock-gateway.ts): the same committed
 * supergraph with the subgraph URLs of this run, and the signed `x-shop-identity` header of the
 * caller added to every subgraph request, as a gateway that forwards identity does. The caller is
 * the `sub` of the request's bearer token, read without verifying it (which only makes the peer
 * cheaper), or PEER_IDENTITY_SUB without one.
 *
 * Plain JavaScript, so that the product's typecheck never needs this folder installed.
 *
 * Environment: PEER_SUBGRAPH_URLS (JSON `{ orders, inventory, notifications }`), PEER_IDENTITY_SUB,
 * SUPERGRAPH_PATH, HIVE_ROUTER_RUNTIME, HIVE_DEDUP. Prints `HIVE_GATEWAY_READY <url>` when listening on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { setTimeout } from 'node:timers';
import { createGatewayRuntime } from '@graphql-hive/gateway';
import { DEV_SECRETS, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import { callerOf } from '../../lib/caller.ts';

const subgraphUrls = JSON.parse(process.env.PEER_SUBGRAPH_URLS ?? '{}');
const sub = process.env.PEER_IDENTITY_SUB ?? 'bench-customer';
const supergraphPath = process.env.SUPERGRAPH_PATH;
if (!supergraphPath) throw new Error('SUPERGRAPH_PATH is required');
const routerRuntime = process.env.HIVE_ROUTER_RUNTIME === 'true';
const dedup = process.env.HIVE_DEDUP !== 'false';

// The subgraphs of this run in place of the routing URLs the committed supergraph names.
let supergraph = readFileSync(supergraphPath, 'utf8');
supergraph = supergraph.replace(/@join__graph\(name: "([^"]+)", url: "[^"]*"\)/g, (whole, name) => (subgraphUrls[name] ? `@join__graph(name: "${name}", url: "${subgraphUrls[name]}")` : whole));

const unifiedGraphHandler = routerRuntime ? (await import('@graphql-hive/router-runtime')).unifiedGraphHandler : undefined;

const gateway = createGatewayRuntime({
  supergraph,
  logging: 'error',
  ...(unifiedGraphHandler ? { unifiedGraphHandler } : {}),
  // Hive Gateway's documented switch for its in-flight deduplication of subgraph requests (on by default).
  ...(dedup ? {} : { transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } } }),
  propagateHeaders: {
    fromClientToSubgraphs: ({ request, subgraphName }) =>
      ({ [IDENTITY_HEADER]: signIdentity({ sub: callerOf(request.headers.get('authorization'), sub), roles: [] }, DEV_SECRETS.identity, subgraphName) }),
  },
});
const server = createServer(gateway);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
console.log(`HIVE_GATEWAY_READY http://127.0.0.1:${server.address().port}/graphql${routerRuntime ? ' (router runtime)' : ''}${dedup ? '' : ' (no in-flight deduplication)'}`);

const shutdown = () => {
  server.close();
  void gateway.dispose().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
