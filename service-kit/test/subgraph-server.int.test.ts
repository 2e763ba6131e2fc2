// The subgraph's own WebSocket endpoint, attacked directly (bypassing the gateway): only a
// connection_init signed by the gateway for this subgraph is acknowledged, and messages are
// bounded like HTTP bodies.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { createRequire } from 'node:module';
import { DEV_SECRETS } from '../src/defaults.js';
import { IDENTITY_HEADER, signIdentity } from '../src/identity.js';
import { startSubgraphServer, type RunningServer } from '../src/subgraph-server.js';

// graphql-js's CommonJS build, the one Apollo Server loads (vitest would pick the ESM one: two realms).
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
const MAX_BYTES = 16 * 1024;
let server: RunningServer;
/** Every log line the server wrote. */
const logs: { level: number; msg: string }[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line) as (typeof logs)[number]);
    done();
  },
});

beforeAll(async () => {
  server = await startSubgraphServer({
    name: 'orders',
    schema: buildSchema('type Query { hello: String }'),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'info' }, sink),
    identitySecret: DEV_SECRETS.identity,
    context: (base) => base,
    checks: {},
    registry: new Registry(),
    production: false,
    maxBodyBytes: MAX_BYTES,
  });
});
afterAll(() => server?.close());

/** Opens a graphql-transport-ws socket, sends connection_init with `payload`, and says what came back. */
function init(payload: unknown, extra?: string): Promise<{ acked: boolean; code?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.url.replace(/^http/, 'ws'), ['graphql-transport-ws']);
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'connection_init', payload }));
      if (extra !== undefined) ws.send(extra);
    });
    let acked = false;
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') {
        acked = true;
        if (extra === undefined) ws.close(1000);
      }
    });
    ws.once('close', (code) => resolve({ acked, code }));
  });
}

describe('subgraph WebSocket', () => {
  it('refuses a connection_init without a valid identity header with 4403', async () => {
    expect(await init({})).toEqual({ acked: false, code: 4403 });
    expect(await init({ [IDENTITY_HEADER]: 'forged.header' })).toEqual({ acked: false, code: 4403 });
    expect(await init({ [IDENTITY_HEADER]: signIdentity({ sub: 'alice', roles: ['admin'] }, 'not-the-secret-0123456789abcdef0123', 'orders') })).toEqual({ acked: false, code: 4403 });
    // Signed by the gateway, but for another subgraph.
    expect(await init({ [IDENTITY_HEADER]: signIdentity({ sub: 'alice', roles: [] }, DEV_SECRETS.identity, 'inventory') })).toEqual({ acked: false, code: 4403 });
  });

  it('acknowledges the gateway, for a customer or for an anonymous caller', async () => {
    expect(await init({ [IDENTITY_HEADER]: signIdentity({ sub: 'alice', roles: [] }, DEV_SECRETS.identity, 'orders') })).toEqual({ acked: true, code: 1000 });
    expect(await init({ [IDENTITY_HEADER]: signIdentity(null, DEV_SECRETS.identity, 'orders') })).toEqual({ acked: true, code: 1000 });
  });

  it('closes a socket that sends a message over the body limit with 1009, and logs it below error level without a stack', async () => {
    const consoleError = vi.spyOn(console, 'error');
    const big = JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `{ hello } #${'x'.repeat(MAX_BYTES)}` } });
    expect(await init({ [IDENTITY_HEADER]: signIdentity(null, DEV_SECRETS.identity, 'orders') }, big)).toMatchObject({ code: 1009 });
    await new Promise((r) => setTimeout(r, 100));
    expect(consoleError).not.toHaveBeenCalled();
    consoleError.mockRestore();
    expect(logs.some((l) => /protocol error/.test(l.msg))).toBe(true);
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(JSON.stringify(logs)).not.toMatch(/"stack"/);
  });
});
