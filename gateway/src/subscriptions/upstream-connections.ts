import type { IncomingMessage } from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { writesPerTurn } from '@shop/service-kit';

type SendData = Parameters<WebSocket['send']>[0];
type SendOptions = { mask?: boolean; binary?: boolean; compress?: boolean; fin?: boolean };
type SendCallback = (err?: Error) => void;

/**
 * ws's client socket with its sends corked per turn of the event loop (`writesPerTurn`): the subscribes and
 * completes of many clients share one connection, and those of one turn leave in one write. The socket under
 * it comes from the public 'upgrade' event (ws has no accessor for it).
 */
class UpstreamWebSocket extends WebSocket {
  private beforeSend: (() => void) | undefined;

  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols);
    this.once('upgrade', (response: IncomingMessage) => {
      this.beforeSend = writesPerTurn(response.socket);
    });
  }

  override send(data: SendData, optionsOrCb?: SendOptions | SendCallback, cb?: SendCallback): void {
    this.beforeSend?.();
    if (typeof optionsOrCb === 'function' || optionsOrCb === undefined) super.send(data, optionsOrCb);
    else super.send(data, optionsOrCb, cb);
  }
}

/**
 * One graphql-ws connection per subgraph, shared by every upstream subscription to it. The connection
 * speaks for the gateway; each subscribe carries its caller's signed identity in `extensions.headers`,
 * which the subgraph checks per operation. Opening a socket, an upgrade and a connection_init per client
 * subscription cost more CPU than the subscription itself on both sides; here a new subscription costs one
 * message.
 */
export interface UpstreamConnection {
  readonly client: Client;
  /**
   * Runs `fn` now, or once the connection attempt under way has succeeded or failed. graphql-ws leaves its
   * connect promise unhandled when a subscription is released while the socket is still connecting and the
   * connection then fails (an unhandled rejection crashes Node), so releases wait for that.
   */
  whenSettled(fn: () => void): void;
}

export interface UpstreamConnectionsOptions {
  /** The connection's own params (the gateway's signed identity for that subgraph), made at every (re)connect. */
  readonly connectionParams: (subgraph: string) => Record<string, unknown>;
  /** How long a connection stays open after its last subscription ended; default 30_000 ms. */
  readonly idleCloseMs?: number;
  /** A connection to `wsUrl` was refused or closed other than normally (its replica is likely down). */
  readonly onLost?: (subgraph: string, wsUrl: string) => void;
}

/** Closed normally: by us (idle, dispose) or by the server on purpose; anything else says the replica went away. */
const NORMAL_CLOSURE = 1000;

export function createUpstreamConnections(opts: UpstreamConnectionsOptions) {
  const pool = new Map<string, UpstreamConnection>();
  let disposed = false;

  function open(subgraph: string, wsUrl: string): UpstreamConnection {
    let connecting = false;
    let waiting: (() => void)[] = [];
    const settle = () => {
      connecting = false;
      const run = waiting;
      waiting = [];
      for (const fn of run) fn();
    };
    const client = createClient({
      url: wsUrl,
      webSocketImpl: UpstreamWebSocket,
      lazy: true,
      lazyCloseTimeout: opts.idleCloseMs ?? 30_000,
      retryAttempts: 0, // each subscription retries itself, to resubscribe with its resume cursor
      // Ping the subgraph so a half-open connection (a crashed host, a dropped NAT entry) is noticed.
      keepAlive: 10_000,
      connectionAckWaitTimeout: 10_000,
      connectionParams: () => opts.connectionParams(subgraph),
      on: {
        connecting: () => {
          connecting = true;
        },
        connected: settle,
        closed: (event) => {
          settle();
          const code = (event as { code?: unknown } | null)?.code;
          if (!disposed && code !== NORMAL_CLOSURE) opts.onLost?.(subgraph, wsUrl);
        },
      },
    });
    return {
      client,
      whenSettled(fn) {
        if (connecting) waiting.push(fn);
        else fn();
      },
    };
  }

  function get(subgraph: string, wsUrl: string): UpstreamConnection {
    const key = `${subgraph}\n${wsUrl}`;
    let conn = pool.get(key);
    if (!conn) pool.set(key, (conn = open(subgraph, wsUrl)));
    return conn;
  }

  return {
    get,
    /**
     * The connections of one upstream subscription, one per (re)subscribe: the first to `firstUrl` (the
     * replica picked for it), each later one, after a drop, to the replica `pick` names then (one up).
     */
    follow(subgraph: string, firstUrl: string, pick: () => string | undefined): () => UpstreamConnection {
      let next: string | undefined = firstUrl;
      return () => {
        const conn = get(subgraph, next ?? pick() ?? firstUrl);
        next = undefined;
        return conn;
      };
    },
    /** Closes every connection (shutdown). */
    dispose(): void {
      disposed = true;
      for (const { client } of pool.values()) void Promise.resolve(client.dispose()).catch(() => undefined);
      pool.clear();
    },
  };
}

export type UpstreamConnections = ReturnType<typeof createUpstreamConnections>;
