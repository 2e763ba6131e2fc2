/**
 * The baseline of `bench/gateway.ts`: stock `@apollo/gateway` + `@apollo/server` with default
 * settings, in its own process so it never shares an event loop with the load generator.
 *
 * The only additions: it loads the same committed supergraph file as our gateway (without the
 * `for: SECURITY` links it would refuse) with the subgraph URLs of this run, and a `RemoteGraphQLDataSource` subclass adds the signed `x-shop-identity`
 * header of the caller (the subgraphs serve no personal data without it). It does not verify a JWT:
 * the caller is the `sub` of the request's bearer token, read unverified, or `STOCK_IDENTITY_SUB`
 * without one, which only makes the baseline cheaper than ours.
 *
 * Environment: STOCK_SUBGRAPH_URLS (JSON `{ orders, inventory, notifications }`), STOCK_IDENTITY_SUB,
 * SUPERGRAPH_PATH. Prints `STOCK_GATEWAY_READY <url>` when listening on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { DEV_SECRETS, IDENTITY_HEADER, signIdentity } from '@shop/service-kit';
import { callerOf } from './caller.js';

const subgraphUrls = JSON.parse(process.env.STOCK_SUBGRAPH_URLS ?? '{}') as Record<string, string>;
const sub = process.env.STOCK_IDENTITY_SUB ?? 'bench-customer';
const supergraphPath = process.env.SUPERGRAPH_PATH;
if (!supergraphPath) throw new Error('SUPERGRAPH_PATH is required');

interface Context {
  readonly sub: string;
}

class IdentityDataSource extends RemoteGraphQLDataSource<Context> {
  constructor(private readonly subgraph: string, url: string) {
    super({ url });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<Context>): void {
    request.http?.headers.set(IDENTITY_HEADER, signIdentity({ sub: context.sub ?? sub, roles: [] }, DEV_SECRETS.identity, this.subgraph));
  }
}

// Stock @apollo/gateway refuses `for: SECURITY` features (@authenticated) since it does not enforce
// them; the subgraphs do, so the baseline reads the supergraph without those links.
const SECURITY_LINK = /\s*@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/v[\d.]+", for: SECURITY\)/g;

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(supergraphPath, 'utf8').replace(SECURITY_LINK, ''),
  buildService: ({ name, url }) => new IdentityDataSource(name, subgraphUrls[name] ?? url ?? ''),
});
const server = new ApolloServer<Context>({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { port: 0, host: '127.0.0.1' },
  context: async ({ req }) => ({ sub: callerOf(req.headers.authorization, sub) }),
});
console.log(`STOCK_GATEWAY_READY ${url}`);

const shutdown = () => {
  void server.stop().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
