/**
 * GraphQL over WebSocket (graphql-transport-ws) on top of the engine: the graphql-ws callbacks.
 * `connection_init` authenticates and takes a connection slot; `subscribe` is rate limited and
 * prepared by the engine; queries and mutations are executed by it, subscriptions attached to
 * their shared upstream with events written straight to the socket (websocket.ts).
 */
import type { ServerOptions } from 'graphql-ws';
import { WebSocket } from 'ws';
import { ErrorCode, correlationIdFrom, type Identity, type Logger } from '@shop/service-kit';
import { GraphQLError } from '../graphql.js';
import { InvalidTokenError, type Authenticated, type Authenticator } from '../middleware/auth.js';
import type { GatewayContext } from '../context.js';
import type { ErrorFormatter } from '../error-masking.js';
import type { Engine, Prepared } from '../engine/engine.js';
import { clientKey, tokenExpired, tooManySubscriptions, type ClientLimits, type RateLimits } from '../middleware/guards.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Membership, ResolvedEvent, Subscriber } from '../subscriptions/fan-out.js';
import type { Expiring, TokenExpiry } from '../middleware/token-expiry.js';
import { writeNextMessage, type SocketExtra } from './websocket-server.js';

/** Graphql-ws close code for a refused or expired token (the library's `Forbidden`). */
export const CLOSE_FORBIDDEN = 4403;
/** Close code for "too many" of anything a client does. */
export const CLOSE_TOO_MANY = 4429;

export interface GraphQLWsOptions {
  readonly engine: Engine;
  readonly authenticator: Authenticator;
  readonly rateLimits: RateLimits;
  readonly clientLimits: ClientLimits;
  readonly tokenExpiry: TokenExpiry;
  readonly metrics: GatewayMetrics;
  readonly formatError: ErrorFormatter;
  readonly logger: Logger;
  readonly maxSubscriptionsPerSocket: number;
}

interface OperationContext {
  readonly gateway: GatewayContext;
  /** Until the subscription is attached to its group (graphql-ws holds this for its whole life). */
  prepared?: Prepared | undefined;
  /** The graphql-ws subscription id and its socket, for writing events straight to it. */
  readonly id: string;
  readonly socket: WebSocket;
  readonly extra: SocketExtra;
  /** Subscriptions: the per-client slot it holds (with one of its socket's), given back when it ends. */
  slot?: string | undefined;
}

/**
 * A connection's context. A class, not an object literal with a getter: such a literal is a
 * dictionary-mode object of its own (a few hundred bytes), and every socket keeps one.
 */
class ConnectionContext implements GatewayContext {
  readonly #parent: Logger;
  #child: Logger | undefined;

  constructor(
    readonly identity: Identity | null,
    readonly correlationId: string,
    logger: Logger,
  ) {
    this.#parent = logger;
  }

  /** Made on first use: most connections never log, and 10,000 child loggers add up. */
  get logger(): Logger {
    return (this.#child ??= this.#parent.child({ correlationId: this.correlationId }));
  }
}

/** What every WebSocket subscription shares. */
interface WsShared {
  readonly metrics: GatewayMetrics;
  readonly clientLimits: ClientLimits;
}

const DONE: IteratorResult<never> = { value: undefined, done: true };

/**
 * One graphql-ws subscription, as one object: the subscriber its group writes events to (straight
 * to the socket), and the iterator graphql-ws drives the operation with. The iterator yields
 * nothing; it ends after the group's last event (graphql-ws then sends `complete`), and graphql-ws
 * returns it when the client completes or leaves. It replaces a Pushable, a subscriber and the
 * closures between them, some 500 bytes per subscription.
 */
class WsSubscription implements Subscriber, AsyncIterableIterator<never> {
  #membership: Membership | undefined;
  #waiting: ((result: IteratorResult<never>) => void) | undefined;
  #ended = false;

  constructor(
    private readonly op: OperationContext,
    private readonly shared: WsShared,
  ) {}

  start(engine: Engine, prepared: Prepared): void {
    this.#membership = engine.subscribe(prepared, this.op.gateway, this);
    // Ended while joining (refused, or joined a group that had ended): leave now that there is a membership.
    if (this.#ended) this.#membership.leave();
  }

  deliver(event: ResolvedEvent, shared = false): void {
    const { op } = this;
    if (writeNextMessage(op.socket, op.id, event, !shared) !== 'slow-consumer') return;
    this.shared.metrics.refusals.inc({ reason: 'slow_consumer' });
    op.gateway.logger.warn({ id: op.id }, 'closing a WebSocket that stopped reading');
  }

  end(): void {
    this.#finish();
  }

  next(): Promise<IteratorResult<never>> {
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<never>> {
    this.#finish();
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<never>> {
    this.#finish();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Leaves the group, gives back the client's subscription slot and ends graphql-ws's iteration; once. */
  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#membership?.leave();
    const { op } = this;
    if (op.slot) this.shared.clientLimits.releaseSubscription(op.slot);
    op.slot = undefined;
    op.extra.connection.subscriptions--;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(DONE);
  }
}

/** Closes a socket whose token has expired. */
class ExpiringSocket implements Expiring {
  constructor(
    private readonly socket: WebSocket,
    private readonly metrics: GatewayMetrics,
  ) {}

  expire(): void {
    this.metrics.refusals.inc({ reason: 'token_expired' });
    this.socket.close(CLOSE_FORBIDDEN, 'Token expired');
  }
}

/**
 * What graphql-ws executes, and keeps for as long as a subscription lives. One literal with every
 * field, `rootValue` included (graphql-ws adds it when missing): a spread copy with a property
 * added later got a hidden class of its own for each subscription, some 280 bytes each.
 */
function executionArgs(prepared: Prepared, contextValue: OperationContext) {
  return {
    schema: prepared.planning.schema,
    document: prepared.document,
    operationName: prepared.operationName,
    variableValues: prepared.variables,
    rootValue: undefined,
    contextValue,
  };
}

export function graphQLWsCallbacks(opts: GraphQLWsOptions): ServerOptions<Record<string, unknown> | undefined, SocketExtra> {
  const { engine, metrics, clientLimits } = opts;
  const shared: WsShared = { metrics, clientLimits };
  return {
    onConnect: async (ctx) => {
      const extra = ctx.extra;
      const params = ctx.connectionParams ?? {};
      const authorization = params.Authorization ?? params.authorization;
      // graphql-ws keeps the connection params for the life of the socket; the token is not needed after this.
      delete (params as Record<string, unknown>).Authorization;
      delete (params as Record<string, unknown>).authorization;
      let authenticated: Authenticated | null;
      try {
        authenticated = await opts.authenticator.authenticate(authorization);
      } catch (err) {
        if (!(err instanceof InvalidTokenError)) throw err;
        metrics.refusals.inc({ reason: 'auth' });
        return false; // graphql-ws closes with 4403 Forbidden
      }
      // Closed while the token was being checked: graphql-ws has already run onClose for it, so
      // counting it now would hold one of the client's connection slots forever.
      if (extra.socket.readyState !== WebSocket.OPEN) return false;
      const identity = authenticated?.identity ?? null;
      const key = clientKey(identity, extra.clientIp);
      if (!clientLimits.takeConnection(key)) {
        extra.socket.close(CLOSE_TOO_MANY, 'Too many connections for this client');
        return false;
      }
      const { connection } = extra;
      connection.pending?.release();
      connection.pending = undefined;
      if (authenticated) {
        // The identity was checked once, here: the socket must not outlive the token.
        connection.expiresAtMs = authenticated.expiresAtMs;
        connection.expiry = new ExpiringSocket(extra.socket, metrics);
        opts.tokenExpiry.watch(authenticated.expiresAtMs, connection.expiry);
      }
      connection.slot = key;
      connection.context = new ConnectionContext(identity, correlationIdFrom(params as Record<string, unknown>), opts.logger);
      metrics.wsConnections.inc();
      return true;
    },
    onClose: (ctx) => {
      const { connection } = ctx.extra;
      if (connection.expiry && connection.expiresAtMs !== undefined) opts.tokenExpiry.unwatch(connection.expiresAtMs, connection.expiry);
      connection.expiry = undefined;
      if (connection.slot) {
        clientLimits.releaseConnection(connection.slot);
        connection.slot = undefined;
        metrics.wsConnections.dec();
      }
    },
    onSubscribe: async (ctx, id, payload) => {
      const { extra } = ctx;
      const { connection, socket, clientIp } = extra;
      const gateway = connection.context;
      if (!gateway) return [new GraphQLError('Not connected.', { extensions: { code: ErrorCode.UNAUTHENTICATED } })];
      // The expiry watch closes the socket within a tick of `exp`; nothing is served in between.
      if (connection.expiresAtMs !== undefined && Date.now() >= connection.expiresAtMs) {
        socket.close(CLOSE_FORBIDDEN, 'Token expired');
        return [tokenExpired()];
      }
      // The context itself, not its logger: a connection's child logger is only made when something is logged.
      const limited = await opts.rateLimits.client(gateway.identity, clientIp, gateway);
      if (limited) return [limited];
      const prepared = engine.prepare(payload, 'ws');
      if ('errors' in prepared) return [...prepared.errors];
      if (prepared.type !== 'subscription') return executionArgs(prepared, { gateway, prepared, id, socket, extra });
      // Checked and taken with no await before `subscribe` runs, so a burst of subscribe messages cannot overshoot.
      if (connection.subscriptions >= opts.maxSubscriptionsPerSocket) {
        metrics.refusals.inc({ reason: 'subscriptions' });
        return [tooManySubscriptions('socket', opts.maxSubscriptionsPerSocket)];
      }
      const slot = clientKey(gateway.identity, clientIp);
      const refused = clientLimits.takeSubscription(slot);
      if (refused) return [refused];
      connection.subscriptions++;
      // graphql-ws keeps the message for the life of the subscription: let it hold the shared copy of the text.
      (payload as { query: string }).query = prepared.query;
      return executionArgs(prepared, { gateway, prepared, id, socket, extra, slot });
    },
    subscribe: (args) => {
      const op = args.contextValue as OperationContext;
      const prepared = op.prepared;
      if (!prepared) return { errors: [new GraphQLError('Not a subscription.')] };
      // Held by graphql-ws for as long as the subscription lives; the group has what it needs.
      op.prepared = undefined;
      const subscription = new WsSubscription(op, shared);
      subscription.start(engine, prepared);
      return subscription;
    },
    execute: async (args) => {
      const op = args.contextValue as OperationContext;
      if (!op.prepared) return { errors: [new GraphQLError('Not a query or mutation.')] };
      return (await engine.execute(op.prepared, op.gateway)).result;
    },
    // Results come from the engine with formatted (plain) errors; graphql-ws's default would call
    // toJSON() on each. Send them as they are.
    onNext: (_ctx, _id, _payload, _args, result) => result,
    // Refusals of a subscribe message (validation, planning, limits) go through the one formatter too.
    onError: (_ctx, _id, _payload, errors) => errors.map((e) => opts.formatError(e.toJSON())),
  };
}
