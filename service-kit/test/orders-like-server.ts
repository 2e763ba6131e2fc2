import type { GraphQLSchema } from 'graphql';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DEV_SECRETS } from '../src/defaults.js';
import { startSubgraphServer, type RunningServer } from '../src/subgraph-server.js';

/** A subgraph server named `orders` on a free 127.0.0.1 port, serving `schema` with the development secrets. */
export function startOrdersLikeServer(schema: GraphQLSchema): Promise<RunningServer> {
  return startSubgraphServer({
    name: 'orders',
    schema,
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    identitySecret: DEV_SECRETS.identity,
    context: (base) => base,
    checks: {},
    registry: new Registry(),
    production: false,
  });
}
