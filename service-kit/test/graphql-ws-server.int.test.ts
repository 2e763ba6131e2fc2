// The subgraph's graphql-ws server does not wait for each message to be written before it takes the next
// one (the messages of one turn leave in one write): a peer that stops reading is therefore dropped once
// 4 MiB wait for it, and its subscription ends, instead of the server buffering for it without bound.
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEV_SECRETS } from '../src/defaults.js';
import { IDENTITY_HEADER, signIdentity } from '../src/identity.js';
import type { RunningServer } from '../src/subgraph-server.js';
import { startOrdersLikeServer } from './orders-like-server.js';

// graphql-js's CommonJS build, the one the server loads (vitest would pick the ESM one: two realms).
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const CHUNK = 'x'.repeat(64 * 1024);
/** More than any socket buffers: the stream can only end early by the server dropping the peer. */
const MAX_CHUNKS = 4_000;
let server: RunningServer;
const stream = { yielded: 0, ended: false };

beforeAll(async () => {
  const schema = buildSchema('type Query { ok: Boolean } type Subscription { chunks: String }');
  schema.getSubscriptionType()!.getFields().chunks!.subscribe = async function* () {
    try {
      for (; stream.yielded < MAX_CHUNKS; stream.yielded++) {
        yield { chunks: CHUNK };
        // A turn per chunk, as pushes from Redis come.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      stream.ended = true;
    }
  };
  server = await startOrdersLikeServer(schema);
});
afterAll(async () => {
  await server?.close();
});

it('drops a peer that stops reading and ends its subscription', async () => {
  const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { [IDENTITY_HEADER]: signIdentity(null, DEV_SECRETS.identity, 'orders') } }));
  await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
  let received = 0;
  socket.on('message', () => received++);
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { chunks }' } }));
  await expect.poll(() => received, { timeout: 10_000 }).toBeGreaterThan(0);
  socket.pause(); // stops reading: the kernel's buffers fill, then the server's

  // The keep-alive would drop the peer too, but only after its ping interval and pong wait (12 s + 12 s):
  // ended well before that, the stream was ended by what waited for the peer.
  await expect.poll(() => stream.ended, { timeout: 8_000 }).toBe(true);
  expect(stream.yielded).toBeLessThan(MAX_CHUNKS);
  socket.resume();
  expect(await Promise.race([closed, sleep(10_000).then(() => 'still open')])).toBe(1006);
}, 60_000);
