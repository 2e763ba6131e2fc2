// A client that leaves while the gateway is still connecting to a subgraph must not crash the gateway
// when that connection then fails (graphql-ws leaves its connect promise unhandled in that case).
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUpstreamSubscription } from '../src/subscriptions/upstream.js';
import { createUpstreamConnections } from '../src/subscriptions/upstream-connections.js';

let server: Server;
let port: number;
const sockets = new Set<Socket>();

beforeAll(async () => {
  // Accepts TCP and hangs up before any WebSocket handshake: a subgraph dying mid-connect.
  server = createServer((socket) => {
    sockets.add(socket);
    setTimeout(() => socket.destroy(), 100);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

it('releases an upstream closed while connecting without an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const events: string[] = [];
    const connections = createUpstreamConnections({ connectionParams: () => ({}) });
    const source = startUpstreamSubscription(
      {
        subgraph: 'orders',
        connection: connections.get('orders', `ws://127.0.0.1:${port}/graphql`),
        operation: 'subscription { orderStatusChanged(orderId: "ord_x") { sequence } }',
        variables: {},
        headers: () => ({}),
        retryAttempts: 0,
      },
      { next: () => events.push('next'), error: () => events.push('error'), complete: () => events.push('complete') },
    );
    await new Promise((r) => setTimeout(r, 20));
    source.close();
    await new Promise((r) => setTimeout(r, 400));
    expect(unhandled).toEqual([]);
    // The listeners had already left: nothing is pushed to them after close.
    expect(events).toEqual([]);
    connections.dispose();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
