// One WebSocket from the gateway carries many callers' operations: each subscribe names its own caller in
// `extensions.headers`, checked like the connection's; without one the connection's caller answers.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { RequestIdentity } from '../src/auth.js';
import { DEV_SECRETS } from '../src/defaults.js';
import { IDENTITY_HEADER, signIdentity } from '../src/identity.js';
import type { RunningServer } from '../src/subgraph-server.js';
import { startOrdersLikeServer } from './orders-like-server.js';

// graphql-js's CommonJS build, the one the server loads (vitest would pick the ESM one: two realms).
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
let server: RunningServer;
let client: Client;
let connections = 0;

beforeAll(async () => {
  const schema = buildSchema('type Query { whoami: String }');
  schema.getQueryType()!.getFields().whoami!.resolve = (_root, _args, ctx: RequestIdentity) => ctx.identity?.sub ?? 'anonymous';
  server = await startOrdersLikeServer(schema);
  client = createClient({
    url: server.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    lazyCloseTimeout: 60_000, // as the gateway keeps it: open between operations
    retryAttempts: 0,
    connectionParams: () => ({ [IDENTITY_HEADER]: signIdentity(null, DEV_SECRETS.identity, 'orders') }),
    on: { connected: () => void connections++ },
  });
});
afterAll(async () => {
  await client?.dispose();
  await server?.close();
});

function run(headers?: Record<string, unknown>): Promise<{ data?: unknown; errors?: { extensions?: { code?: string } }[] }> {
  return new Promise((resolve, reject) => {
    let result: unknown;
    client.subscribe({ query: '{ whoami }', ...(headers ? { extensions: { headers } } : {}) }, {
      next: (r) => (result = r),
      error: (err) => (Array.isArray(err) ? resolve({ errors: err as never }) : reject(err instanceof Error ? err : new Error(JSON.stringify(err)))),
      complete: () => resolve(result as never),
    });
  });
}

it("answers each operation as its own caller, over one connection", async () => {
  const as = (sub: string) => ({ [IDENTITY_HEADER]: signIdentity({ sub, roles: [] }, DEV_SECRETS.identity, 'orders') });
  const answers = await Promise.all([run(as('alice')), run(as('bob')), run(), run(as('carol'))]);
  expect(answers.map((a) => a.data)).toEqual([{ whoami: 'alice' }, { whoami: 'bob' }, { whoami: 'anonymous' }, { whoami: 'carol' }]);
  expect(connections).toBe(1);
});

it('refuses an operation whose identity header is forged, expired or for another subgraph', async () => {
  const bad = [
    { [IDENTITY_HEADER]: 'forged.header' },
    { [IDENTITY_HEADER]: signIdentity({ sub: 'alice', roles: [] }, DEV_SECRETS.identity, 'inventory') },
    { [IDENTITY_HEADER]: signIdentity({ sub: 'alice', roles: [] }, DEV_SECRETS.identity, 'orders', Date.now() - 10 * 60_000) },
    {},
  ];
  for (const headers of bad) {
    const r = await run(headers);
    expect(r.errors?.[0]?.extensions?.code, JSON.stringify(headers)).toBe('UNAUTHENTICATED');
  }
  // The connection is still there for the others.
  expect((await run()).data).toEqual({ whoami: 'anonymous' });
  expect(connections).toBe(1);
});
