import type { IncomingMessage } from 'node:http';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { Logger } from 'pino';
import { WebSocket, type WebSocketServer } from 'ws';
import { writesPerTurn } from './writes-per-turn.js';

/** What each connection context carries about its socket (as graphql-ws's own `useServer` has it). */
export interface WsExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
}

/** A close reason fits in a close frame (123 bytes); production says nothing more. */
const closeReason = (err: unknown, production: boolean): string => {
  const message = err instanceof Error ? err.message : String(err);
  return production || Buffer.byteLength(message) > 123 ? 'Internal server error' : message;
};

/** Bytes a socket may have queued before its peer counts as one that stopped reading. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * graphql-ws's protocol server (`makeServer`) on a `ws` server: what the library's `useServer`
 * does, with the errors sorted. ws's own refusals of what a client sent (a message over
 * `maxPayload`, a bad frame) close the socket with their code (1009, 1002, ...) and are logged at
 * info without a stack: a client must not be able to drive the error log. Everything else is
 * ours, logged as an error, and closes the socket with 1011. Each socket is pinged every
 * `keepAliveMs` and dropped when a ping goes unanswered that long.
 */
export function serveGraphQLWs<P extends Record<string, unknown> | undefined>(
  options: ServerOptions<P, WsExtra>,
  wss: WebSocketServer,
  opts: { logger: Logger; production: boolean; keepAliveMs?: number },
): { dispose(): Promise<void> } {
  const server = makeServer<P, WsExtra>(options);
  const { logger, production } = opts;
  const keepAliveMs = opts.keepAliveMs ?? 12_000;
  wss.options.handleProtocols = handleProtocols;

  const failed = (socket: WebSocket, err: unknown, what: string) => {
    logger.error({ err }, what);
    if (socket.readyState === WebSocket.OPEN) socket.close(CloseCode.InternalServerError, closeReason(err, production));
  };

  wss.on('connection', (socket, request) => {
    socket.once('error', (err: Error & { code?: string }) => {
      if (err.code?.startsWith('WS_ERR_')) logger.info({ code: err.code, reason: err.message }, 'websocket closed for a protocol error');
      else failed(socket, err, 'websocket error');
    });
    let pongWait: NodeJS.Timeout | undefined;
    const ping =
      keepAliveMs > 0
        ? setInterval(() => {
            if (socket.readyState !== WebSocket.OPEN) return;
            pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
            socket.once('pong', () => clearTimeout(pongWait));
            socket.ping();
          }, keepAliveMs)
        : undefined;
    const beforeSend = writesPerTurn(request.socket);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        // Not awaited by graphql-ws: it waits for each send before it takes its next message, and a send
        // corked until the end of the turn would then put every message of a turn (the changes one batch
        // pushed) in a turn, and a write, of its own. A peer that stops reading is dropped instead of
        // buffered for without bound; a failed write closes the socket, which ends its subscriptions.
        send: (data) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
            logger.warn({ bufferedBytes: socket.bufferedAmount }, 'websocket peer stopped reading; dropping it');
            socket.terminate();
            return;
          }
          beforeSend();
          socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', (data) => {
            cb(String(data as Buffer)).catch((err: unknown) => failed(socket, err, 'websocket message handling failed'));
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      clearTimeout(pongWait);
      clearInterval(ping);
      closed(code, String(reason)).catch((err: unknown) => logger.error({ err }, 'websocket close handling failed'));
    });
  });

  return {
    async dispose() {
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners('connection');
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
