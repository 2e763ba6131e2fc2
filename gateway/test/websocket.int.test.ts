import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningGateway } from '../src/server.js';
import { eventually, startTestGateway, tokenFor } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { startTestGraph, type TestGraph } from './fixtures/subgraphs.js';

/** The graphql-transport-ws protocol as a raw socket sees it: close codes, ping/pong, message shapes. */

interface Raw {
  socket: WebSocket;
  messages: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: Record<string, unknown>): void;
  next(predicate: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

async function open(gateway: RunningGateway, protocols: string[] = ['graphql-transport-ws'], options: WebSocket.ClientOptions = {}): Promise<Raw> {
  const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/graphql`, protocols, options);
  const messages: Record<string, unknown>[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  socket.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false);
    messages.push(JSON.parse(String(data)) as Record<string, unknown>);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    closed,
    send: (message) => socket.send(JSON.stringify(message)),
    async next(predicate, timeoutMs = 5_000) {
      let found: Record<string, unknown> | undefined;
      await eventually(() => (found = messages.find(predicate)) !== undefined, timeoutMs, 'a message');
      return found!;
    },
  };
}

const STATUS_SUB = 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status order { id lines { product { name } } } } }';

describe('graphql-transport-ws on the gateway', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;
  let alice: string;
  const sockets: WebSocket[] = [];
  const track = (raw: Raw) => {
    sockets.push(raw.socket);
    return raw;
  };

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    gateway = await startTestGateway(graph, redis.url, { WS_MAX_CONNECTIONS_PER_CLIENT: '100', WS_KEEPALIVE: '300ms' });
    alice = await tokenFor('alice');
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await gateway?.close();
    await graph?.close();
    await redis?.close();
  });

  it('closes with 4406 when the client does not speak graphql-transport-ws', async () => {
    const raw = track(await open(gateway, []));
    expect(raw.socket.protocol).toBe('');
    expect((await raw.closed).code).toBe(4406);
  });

  it('closes with 4401 on a subscribe before the connection is acknowledged', async () => {
    const raw = track(await open(gateway));
    raw.send({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } });
    expect((await raw.closed).code).toBe(4401);
  });

  it('closes with 4408 when connection_init does not come in time', async () => {
    const raw = track(await open(gateway));
    const { code } = await raw.closed;
    expect(code).toBe(4408);
  });

  it('answers ping with pong, and closes with 4429 on a second connection_init and 4400 on garbage', async () => {
    const raw = track(await open(gateway));
    raw.send({ type: 'connection_init', payload: { Authorization: `Bearer ${alice}` } });
    await raw.next((m) => m.type === 'connection_ack');
    raw.send({ type: 'ping', payload: { n: 7 } });
    expect(await raw.next((m) => m.type === 'pong')).toEqual({ type: 'pong', payload: { n: 7 } });
    raw.send({ type: 'connection_init' });
    expect((await raw.closed).code).toBe(4429);

    const other = track(await open(gateway));
    other.socket.send('not json');
    expect((await other.closed).code).toBe(4400);
  });

  it('writes events as graphql-ws next messages, refuses a duplicate id with 4409, and stops on complete', async () => {
    const raw = track(await open(gateway));
    raw.send({ type: 'connection_init', payload: { Authorization: `Bearer ${alice}` } });
    await raw.next((m) => m.type === 'connection_ack');
    raw.send({ id: 'sub-1', type: 'subscribe', payload: { query: STATUS_SUB, variables: { id: 'o1' } } });
    const first = await raw.next((m) => m.type === 'next' && m.id === 'sub-1');
    expect(Object.keys(first)).toEqual(['id', 'type', 'payload']);
    expect(first.payload).toEqual({
      data: { orderStatusChanged: { status: 'PENDING', order: { id: 'o1', lines: [{ product: { name: 'Kettle' } }, { product: { name: 'Teapot' } }] } } },
    });

    raw.send({ id: 'sub-1', type: 'complete' });
    await eventually(() => gateway.subscriptions.upstreamCount === 0, 5_000, 'the upstream subscription to be released');
    const before = raw.messages.length;
    graph.changeStatus('o1', 'INVENTORY_RESERVED');
    await new Promise((r) => setTimeout(r, 300));
    expect(raw.messages.slice(before)).toEqual([]);

    raw.send({ id: 'sub-2', type: 'subscribe', payload: { query: STATUS_SUB, variables: { id: 'o1' } } });
    await raw.next((m) => m.type === 'next' && m.id === 'sub-2');
    raw.send({ id: 'sub-2', type: 'subscribe', payload: { query: STATUS_SUB, variables: { id: 'o1' } } });
    expect((await raw.closed).code).toBe(4409);
    await eventually(() => gateway.subscriptions.upstreamCount === 0, 5_000, 'the upstream subscription to be released after the close');
  });

  it('sends a stream\'s last event and its complete once each, and takes the id again as soon as the client has the complete', async () => {
    const bob = await tokenFor('bob');
    const raw = track(await open(gateway));
    raw.send({ type: 'connection_init', payload: { Authorization: `Bearer ${bob}` } });
    await raw.next((m) => m.type === 'connection_ack');
    raw.send({ id: 'last-1', type: 'subscribe', payload: { query: STATUS_SUB, variables: { id: 'o2' } } });
    await eventually(() => graph.orders.activeSubscriptions > 0, 5_000, 'the upstream subscription');
    // Reuse the id the moment the complete arrives, before the gateway could have seen anything else.
    raw.socket.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: string; type: string };
      if (m.type === 'complete' && m.id === 'last-1' && raw.messages.filter((x) => x.type === 'complete').length === 1) {
        raw.send({ id: 'last-1', type: 'subscribe', payload: { query: STATUS_SUB, variables: { id: 'o2' } } });
      }
    });
    graph.changeStatus('o2', 'CANCELLED', { last: true });
    await raw.next((m) => m.type === 'complete' && m.id === 'last-1');
    // The second subscription under the same id replays the history (PENDING, CANCELLED).
    await eventually(() => raw.messages.filter((m) => m.type === 'next' && (m.payload as { data?: { orderStatusChanged?: { status?: string } } }).data?.orderStatusChanged?.status === 'CANCELLED').length === 2, 5_000, 'the replay');
    await new Promise((r) => setTimeout(r, 300));
    const kinds = raw.messages.filter((m) => m.id === 'last-1').map((m) => (m.type === 'next' ? (m.payload as { data: { orderStatusChanged: { status: string } } }).data.orderStatusChanged.status : m.type));
    expect(kinds).toEqual(['PENDING', 'CANCELLED', 'complete', 'PENDING', 'CANCELLED']);
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
    raw.send({ id: 'last-1', type: 'complete' });
  });

  it('answers a query that fails with next (errors) and complete, and keeps the socket open', async () => {
    const raw = track(await open(gateway));
    raw.send({ type: 'connection_init', payload: { Authorization: `Bearer ${alice}` } });
    await raw.next((m) => m.type === 'connection_ack');
    raw.send({ id: 'q1', type: 'subscribe', payload: { query: '{ orders { edges { cursor } } }' } });
    const next = await raw.next((m) => m.type === 'next' && m.id === 'q1');
    expect((next.payload as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await raw.next((m) => m.type === 'complete' && m.id === 'q1');
    raw.send({ type: 'ping' });
    await raw.next((m) => m.type === 'pong');
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('does not count a connection that closed while its token was being checked', async () => {
    const connections = async () => {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      return Number(/^gateway_ws_connections (\d+)/m.exec(text)?.[1] ?? NaN);
    };
    for (const socket of sockets) socket.terminate();
    await eventually(async () => (await connections()) === 0, 5_000, 'no open connections');
    for (const role of ['r1', 'r2', 'r3', 'r4']) {
      // A token not seen before, so its check really waits for the signature verification.
      const token = await tokenFor('carol', [role]);
      const raw = await open(gateway);
      raw.send({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } });
      raw.socket.terminate();
      await raw.closed;
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(await connections()).toBe(0);
  });

  it('refuses subscription variables of the wrong type with BAD_USER_INPUT, before subscribing upstream', async () => {
    const raw = track(await open(gateway));
    raw.send({ type: 'connection_init', payload: { Authorization: `Bearer ${alice}` } });
    await raw.next((m) => m.type === 'connection_ack');
    const before = gateway.subscriptions.upstreamStarts;
    raw.send({ id: 'bad', type: 'subscribe', payload: { query: STATUS_SUB, variables: { id: { not: 'an id' } } } });
    const error = await raw.next((m) => m.type === 'error' && m.id === 'bad');
    expect((error.payload as { extensions?: { code?: string } }[])[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(gateway.subscriptions.upstreamStarts).toBe(before);
  });

  it('drops a socket that stops answering pings, and with it its subscriptions', async () => {
    const raw = track(await open(gateway, ['graphql-transport-ws'], { autoPong: false }));
    raw.send({ type: 'connection_init', payload: { Authorization: `Bearer ${alice}` } });
    await raw.next((m) => m.type === 'connection_ack');
    raw.send({ id: 'a', type: 'subscribe', payload: { query: STATUS_SUB, variables: { id: 'o1' } } });
    await raw.next((m) => m.type === 'next');
    // Terminated, not closed: no close frame reaches a peer that has stopped answering.
    expect((await raw.closed).code).toBe(1006);
    await eventually(() => gateway.subscriptions.upstreamCount === 0, 5_000, 'the upstream subscription to be released');
  });
});
