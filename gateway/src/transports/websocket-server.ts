import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, type WebSocketServer } from 'ws';
import type { Logger } from '@shop/service-kit';
import type { GatewayContext } from '../context.js';
import type { Admission, PendingSlot } from '../middleware/upgrade-admission.js';
import type { Expiring } from '../middleware/token-expiry.js';
import type { ResolvedEvent } from '../subscriptions/fan-out.js';

/** What the gateway keeps about one connection, as it goes from upgrade to close. */
export interface ConnectionState {
  /** The "pending" slot of the client's IP the socket holds until connection_init is accepted. */
  pending: PendingSlot | undefined;
  /** Set once the connection is accepted: who it is, and the per-client slot it holds. */
  context?: GatewayContext;
  slot?: string | undefined;
  /** The token's end (ms since the epoch); the socket is closed with 4403 then. */
  expiresAtMs?: number;
  /** What the token-expiry watch holds for this connection (unwatched on close). */
  expiry?: Expiring | undefined;
  /** Active subscriptions on this socket. */
  subscriptions: number;
}

/** What each graphql-ws connection context carries about its socket. */
export interface SocketExtra {
  readonly socket: WebSocket;
  /** The client's address (X-Forwarded-For read only from trusted proxies). */
  readonly clientIp: string;
  readonly connection: ConnectionState;
}

export interface WebSocketServing {
  /** Closes every socket with 1001 and stops the keep-alive sweep. */
  dispose(): Promise<void>;
}

/** A reason string fits in a close frame (123 bytes). */
function closeReason(message: string, production: boolean): string {
  if (production) return 'Internal server error';
  return Buffer.byteLength(message) > 123 ? 'Internal server error' : message;
}

/**
 * graphql-ws's protocol server (`makeServer`: connection_init, ping/pong, subscribe, complete and
 * their close codes) on a `ws` server. It replaces graphql-ws's `useServer`, which keeps the upgrade
 * request and its own ping timers for every socket: with 10,000 subscribers those were a large
 * share of the memory per connection. Here one sweep pings every socket each `keepAliveMs` and
 * drops those that did not answer the previous ping.
 */
export function serveGraphQLOverWebSocket<P extends Record<string, unknown> | undefined>(
  options: ServerOptions<P, SocketExtra>,
  wss: WebSocketServer,
  opts: {
    keepAliveMs: number;
    production: boolean;
    logger: Logger;
    /** What the upgrade request was admitted with (upgrade-admission.ts). */
    admitted: (request: IncomingMessage) => Admission;
    /** Each message as it arrives, before graphql-ws reads it (pings included): per-IP counting. */
    onMessageReceived?: (extra: SocketExtra) => void;
    /** Runs when a socket closes, whether or not graphql-ws ever accepted it. */
    onSocketClosed?: (extra: SocketExtra) => void;
  },
): WebSocketServing {
  const server = makeServer<P, SocketExtra>(options);
  wss.options.handleProtocols = handleProtocols;
  const { logger, production } = opts;

  const awaitingPong = new WeakSet<WebSocket>();
  const sweep =
    opts.keepAliveMs > 0
      ? setInterval(() => {
          for (const socket of wss.clients) {
            if (socket.readyState !== WebSocket.OPEN) continue;
            if (awaitingPong.has(socket)) {
              socket.terminate();
              continue;
            }
            awaitingPong.add(socket);
            socket.ping();
          }
        }, opts.keepAliveMs)
      : undefined;
  sweep?.unref();

  const internalError = (socket: WebSocket, err: unknown, what: string) => {
    logger.error({ err }, what);
    if (socket.readyState === WebSocket.OPEN) socket.close(CloseCode.InternalServerError, closeReason(err instanceof Error ? err.message : String(err), production));
  };

  wss.on('connection', (socket, request) => {
    // Not the upgrade request: holding it for the life of the socket costs kilobytes per connection.
    const { clientIp, pending } = opts.admitted(request);
    const extra: SocketExtra = { socket, clientIp, connection: { pending, subscriptions: 0 } };
    socket.once('error', (err: Error & { code?: string }) => {
      // ws's own refusals of what a client sent (a message over maxPayload, a bad frame): ws has
      // already closed the socket with the right code (1009, 1002, ...). A client's fault, logged
      // without a stack and below error level, so no client can drive the error log.
      if (err.code?.startsWith('WS_ERR_')) {
        logger.info({ code: err.code, reason: err.message, clientIp: extra.clientIp }, 'websocket closed for a protocol error');
        return;
      }
      internalError(socket, err, 'websocket error');
    });
    socket.on('pong', () => awaitingPong.delete(socket));
    const closed = server.opened(
      // Methods, not arrow properties: tsx (esbuild `keepNames`) gives every named arrow its own
      // `name` property when it is created, a few hundred bytes per connection each.
      {
        protocol: socket.protocol,
        send(data) {
          return new Promise<void>((resolve, reject) => {
            if (socket.readyState !== WebSocket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          });
        },
        close(code, reason) {
          socket.close(code, reason);
        },
        onMessage(cb) {
          socket.on('message', (data) => {
            opts.onMessageReceived?.(extra);
            cb(String(data as Buffer)).catch((err: unknown) => internalError(socket, err, 'websocket message handling failed'));
          });
        },
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      void closed(code, String(reason))
        .catch((err: unknown) => logger.error({ err }, 'websocket close handling failed'))
        .finally(() => opts.onSocketClosed?.(extra));
    });
  });

  return {
    async dispose() {
      if (sweep) clearInterval(sweep);
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners('connection');
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** The TCP socket under a ws WebSocket (ws keeps it in `_socket`; there is no public accessor). */
function rawSocketOf(socket: WebSocket): Socket {
  return (socket as unknown as { _socket: Socket })._socket;
}

/** Bytes a socket may have queued before it counts as a client that stopped reading. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** What became of one `next` message. */
export type NextWrite = 'written' | 'not-open' | 'slow-consumer';

/**
 * Writes a `next` message for subscription `id` straight to the socket, in the exact form
 * graphql-ws's server writes it (`{"id":<id>,"type":"next","payload":<result>}`), from the event's
 * once-serialized result: graphql-ws still runs the operation, only the per-event path skips its
 * per-subscriber serialization. A socket that has stopped reading is terminated instead
 * (`slow-consumer`): buffering more for it would only grow the gateway's memory. `coalesce`: held back with
 * the socket's other messages of the tick (below); an event going to many sockets at once gives each one
 * message, so it is written at once instead (holding 10,000 sockets back only added the buffering: fan-out p99
 * 232-236 ms written at once against 244-256 held back, three interleaved runs each).
 */
export function writeNextMessage(socket: WebSocket, id: string, event: ResolvedEvent, coalesce = true): NextWrite {
  if (socket.readyState !== WebSocket.OPEN) return 'not-open';
  const raw = rawSocketOf(socket);
  if (raw.writableLength > MAX_BUFFERED_BYTES) {
    socket.terminate();
    return 'slow-consumer';
  }
  // Framed here and written in one piece: ws's sender would allocate and write the frame header
  // separately for each of thousands of sockets. Safe because nothing here is compressed or
  // fragmented, so ws never holds a message of this socket back in its own queue.
  const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  const headBytes = Buffer.byteLength(head);
  const json = event.json;
  const length = headBytes + json.length + 1;
  const offset = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(offset + length);
  frame[0] = 0x81; // FIN, text
  if (offset === 2) frame[1] = length;
  else if (offset === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(head, offset);
  json.copy(frame, offset + headBytes);
  frame[frame.length - 1] = 0x7d; // }
  if (coalesce) writeCoalesced(raw, frame);
  else raw.write(frame);
  return 'written';
}

/**
 * Writes to `raw`, holding the socket's writes back until the current tick's work is done, so messages for
 * one client produced together (an order's status changes pushed in one upstream read, a last `next` and its
 * `complete`) leave in one system call instead of one each.
 */
function writeCoalesced(raw: Socket, frame: Buffer): void {
  if (raw.writableCorked === 0) {
    raw.cork();
    process.nextTick(uncork, raw);
  }
  raw.write(frame);
}

const uncork = (raw: Socket) => raw.uncork();
