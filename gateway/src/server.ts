import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer, HeaderMap, type GraphQLRequest } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { RedisClient as Redis } from '@shop/service-kit';
import type { DocumentNode, ExecutionResult, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { request as undiciRequest } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import {
  CORRELATION_HEADER,
  ErrorCode,
  connectRedis,
  httpStatusOf,
  correlationIdFrom,
  createLogger,
  handleOpsRequest,
  type Identity,
  type Logger,
} from '@shop/service-kit';
import { GraphQLError, getOperationAST, getVariableValues, parse } from './graphql.js';
import { complexityPlugin, metricsPlugin, type Transport } from './apollo-plugins.js';
import { createCorsPolicy } from './cors.js';
import { createAuthenticator, InvalidTokenError, type Authenticated } from './auth.js';
import { ClientAddresses } from './client-address.js';
import { ClientSlots } from './client-slots.js';
import { isJsonContentType, isPreflighted, mediaTypeOf } from './csrf.js';
import { serveDevToken } from './dev-token-route.js';
import { createErrorFormatter } from './error-masking.js';
import { TokenExpiry } from './token-expiry.js';
import { UpgradeAdmission } from './upgrade-admission.js';
import { checkVariableNames } from './variable-names.js';
import type { GatewayConfig } from './config.js';
import type { GatewayContext } from './context.js';
import { createSubgraphAgent, SubgraphDataSource } from './data-source.js';
import { DocumentCache, type CheckedDocument } from './execution/document-cache.js';
import { FastHttpPath } from './execution/fast-http.js';
import { PlanExecutor } from './execution/plan-executor.js';
import { SubgraphClient } from './execution/subgraph-client.js';
import type { GatewayInterface } from '@apollo/server-gateway-interface';
import { BodyTooLargeError, readBody, sendGraphQLError } from './http-io.js';
import { checkComplexity, measureOperation } from './limits.js';
import { createMetrics } from './metrics.js';
import { acceptsMultipartSubscription, streamMultipart } from './multipart.js';
import { createRateLimiter, type RateLimiter } from './rate-limit.js';
import { FederatedSubscriptions, type PlannedSubscription } from './subscriptions/federated.js';
import { Pushable } from './subscriptions/pushable.js';
import { serveGraphQLOverWebSocket, socketSubscriber, type ConnectionState } from './websocket.js';

export interface RunningGateway {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Drains HTTP, closes WebSockets with 1001 and every upstream subscription, then Redis. */
  close(): Promise<void>;
  /** For tests and diagnostics. */
  readonly subscriptions: FederatedSubscriptions;
}

type ApolloContext = GatewayContext & { transport: Transport };

/** A request's correlation id and its child logger, made only when something is logged (most requests log nothing). */
class RequestScope {
  #logger: Logger | undefined;
  constructor(
    private readonly root: Logger,
    readonly correlationId: string,
  ) {}

  get logger(): Logger {
    return (this.#logger ??= this.root.child({ correlationId: this.correlationId }));
  }
}

/** How long a request waits for the rate limiter before going through without it. */
const RATE_LIMIT_TIMEOUT_MS = 1_000;
/** Graphql-ws close code for a refused or expired token (the library's `Forbidden`). */
const CLOSE_FORBIDDEN = 4403;
/** Close code and HTTP status for "too many" of anything a client does. */
const CLOSE_TOO_MANY = 4429;

const tokenExpired = () => new GraphQLError('The token has expired: connect again with a new one.', { extensions: { code: ErrorCode.UNAUTHENTICATED } });
const tooManySubscriptions = (scope: 'socket' | 'client', max: number) =>
  new GraphQLError(`Too many active subscriptions for this ${scope === 'socket' ? 'connection' : 'client'} (at most ${max}).`, {
    extensions: { code: ErrorCode.RATE_LIMITED, limit: scope === 'socket' ? 'subscriptionsPerSocket' : 'subscriptionsPerClient', max },
  });

function wsUrlOf(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function clientKey(identity: Identity | null, clientIp: string): string {
  return identity ? `sub:${identity.sub}` : `ip:${clientIp}`;
}

/** Starts the gateway in-process (used by `main.ts` and the tests). */
export async function startGateway(config: GatewayConfig, opts: { logger?: Logger } = {}): Promise<RunningGateway> {
  const logger = opts.logger ?? createLogger('gateway', config.logLevel);
  const metrics = createMetrics();
  const agent = createSubgraphAgent();
  const authenticator = createAuthenticator(config.auth);

  const redis: Redis = await connectRedis(config, logger, { maxRetriesPerRequest: 2 });
  const rateLimiter: RateLimiter = createRateLimiter(redis, {
    limit: config.limits.rateLimit,
    windowMs: config.limits.rateLimitWindowMs,
    keyPrefix: 'shop:gateway:rate:',
  });
  // Before the token is looked at: requests with bad tokens, pings and sockets that never
  // authenticate count too. Its own prefix, so an IP's bucket and an anonymous client's differ.
  const ipRateLimiter: RateLimiter = createRateLimiter(redis, {
    limit: config.limits.ipRateLimit,
    windowMs: config.limits.rateLimitWindowMs,
    keyPrefix: 'shop:gateway:ip-rate:',
  });
  const clientAddresses = new ClientAddresses(config.trustedProxies);
  const tokenExpiry = new TokenExpiry();

  // --- supergraph: from the committed file, subgraph URLs replaced from config; reloaded on change in development
  let watcher: FSWatcher | undefined;
  const gateway = new ApolloGateway({
    logger,
    supergraphSdl: async ({ update }) => {
      let current = await readFile(config.supergraphPath, 'utf8');
      if (config.watchSupergraph) {
        let timer: NodeJS.Timeout | undefined;
        watcher = watch(config.supergraphPath, () => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            readFile(config.supergraphPath, 'utf8')
              .then((next) => {
                if (next === current || next.trim() === '') return;
                update(next);
                current = next;
                logger.info({ path: config.supergraphPath }, 'supergraph reloaded');
              })
              .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'supergraph reload failed; keeping the previous one'));
          }, 100);
        });
      }
      return {
        supergraphSdl: current,
        cleanup: async () => {
          watcher?.close();
        },
      };
    },
    buildService: ({ name, url }) =>
      new SubgraphDataSource({ name, url: config.subgraphUrls[name] ?? url ?? '', agent, identitySecret: config.identitySecret, metrics }),
  });
  const gatewayInternals = gateway as unknown as { schema?: GraphQLSchema };
  const currentSchema = (): GraphQLSchema => {
    if (!gatewayInternals.schema) throw new Error('the gateway has no schema yet');
    return gatewayInternals.schema;
  };

  // Apollo Server drives the gateway as usual; only the executor of queries and mutations is ours.
  const planExecutor = new PlanExecutor(gateway, new SubgraphClient(agent, config.identitySecret, metrics), (name) => config.subgraphUrls[name], metrics);
  const servedGateway: GatewayInterface = {
    async load(options) {
      const loaded = await gateway.load(options);
      if (loaded.executor) planExecutor.fallback = loaded.executor;
      return { schema: loaded.schema, executor: config.queryExecutor === 'fast' ? planExecutor.executor : loaded.executor };
    },
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    stop: () => gateway.stop(),
  };

  const formatError = createErrorFormatter(config.production);

  const apollo = new ApolloServer<ApolloContext>({
    gateway: servedGateway,
    logger,
    csrfPrevention: true,
    introspection: !config.production,
    allowBatchedHttpRequests: false,
    // main.ts owns SIGTERM/SIGINT: Apollo's own handler would stop the server under our feet.
    stopOnTerminationSignals: false,
    // Stacks go to the log, never to a client (formatError would drop them anyway).
    includeStacktraceInErrorResponses: false,
    nodeEnv: config.production ? 'production' : 'development',
    plugins: [
      config.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
      complexityPlugin(config.limits, metrics),
      metricsPlugin(metrics),
    ],
    formatError,
  });
  await apollo.start();

  const subscriptions = new FederatedSubscriptions({
    gateway,
    wsUrlFor: (name) => (config.subgraphUrls[name] ? wsUrlOf(config.subgraphUrls[name]) : undefined),
    identitySecret: config.identitySecret,
    metrics,
    retryAttempts: config.upstreamRetryAttempts,
    formatError,
    ...(config.queryExecutor === 'fast' ? { events: planExecutor } : {}),
  });

  const documents = new DocumentCache();
  const checkDocument = (query: string): CheckedDocument => documents.check(currentSchema(), query);

  const fastPath =
    config.queryExecutor === 'fast'
      ? new FastHttpPath({
          schema: currentSchema,
          document: (query) => {
            const checked = checkDocument(query);
            return 'document' in checked ? checked.document : undefined;
          },
          executor: planExecutor,
          limits: config.limits,
          metrics,
          formatError,
        })
      : undefined;

  /** Checks a subscription request (parse, validate, limits) and plans it. */
  const prepareSubscription = (
    query: string,
    operationName: string | undefined,
    variables: Record<string, unknown>,
  ): { kind: 'subscription'; planned: PlannedSubscription } | { kind: 'other'; document: DocumentNode } | { kind: 'errors'; errors: readonly GraphQLError[] } => {
    const checked = checkDocument(query);
    if ('errors' in checked) return { kind: 'errors', errors: checked.errors };
    const { document, schema } = checked;
    const operation = getOperationAST(document, operationName);
    if (!operation) return { kind: 'errors', errors: [new GraphQLError('Unknown or ambiguous operation name.', { extensions: { code: ErrorCode.BAD_USER_INPUT } })] };
    if (operation.operation !== 'subscription') return { kind: 'other', document };
    const badName = checkVariableNames(operation, variables);
    if (badName) return { kind: 'errors', errors: [new GraphQLError(badName.message, { extensions: { code: ErrorCode.BAD_USER_INPUT } })] };
    // Checked here, before the variables key a shared upstream subscription or reach a subgraph.
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 5 });
    if (coerced.errors) return { kind: 'errors', errors: coerced.errors.map((e) => new GraphQLError(e.message, { extensions: { code: ErrorCode.BAD_USER_INPUT } })) };
    const refusal = checkComplexity(measureOperation(schema, document, operation, variables), config.limits);
    if (refusal) {
      metrics.refusals.inc({ reason: String(refusal.extensions.limit) });
      // `extensions.http` is for Apollo Server's status code; these errors go to clients as they are.
      const { http: _http, ...extensions } = refusal.extensions;
      return { kind: 'errors', errors: [new GraphQLError(refusal.message, { extensions })] };
    }
    const planned = subscriptions.plan({ document, query: checked.query, operationName, variables });
    return 'node' in planned ? { kind: 'subscription', planned } : { kind: 'errors', errors: planned };
  };

  /** A RATE_LIMITED error when `key` is over `limit` in this window of `limiter`; `undefined` to go on. */
  const overLimit = async (limiter: RateLimiter, limit: number, key: string, log: { readonly logger: Logger }): Promise<GraphQLError | undefined> => {
    if (limit <= 0) return undefined;
    try {
      // Fail open fast: a slow or reconnecting Redis must not add its timeouts to every request.
      let timer: NodeJS.Timeout | undefined;
      const decision = await Promise.race([
        limiter.hit(key),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('rate limiter timed out')), RATE_LIMIT_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (decision.allowed) return undefined;
      metrics.refusals.inc({ reason: limiter === ipRateLimiter ? 'ip_rate' : 'rate' });
      return new GraphQLError(`Too many requests: at most ${limit} per ${config.limits.rateLimitWindowMs / 1000} s.`, {
        extensions: { code: ErrorCode.RATE_LIMITED, retryAfterMs: decision.resetMs },
      });
    } catch (err) {
      // Redis trouble must not take the API down: let the request through, loudly.
      log.logger.warn({ err: (err as Error).message }, 'rate limiter unavailable; allowing the request');
      return undefined;
    }
  };
  const rateLimited = (key: string, log: { readonly logger: Logger }) => overLimit(rateLimiter, config.limits.rateLimit, key, log);
  const ipRateLimited = (clientIp: string, log: { readonly logger: Logger }) => overLimit(ipRateLimiter, config.limits.ipRateLimit, clientIp, log);
  const sendRateLimited = (res: ServerResponse, limited: GraphQLError) => {
    const retryAfter = String(Math.max(1, Math.ceil(Number(limited.extensions.retryAfterMs) / 1000)));
    sendGraphQLError(res, httpStatusOf(ErrorCode.RATE_LIMITED), limited.toJSON(), { 'retry-after': retryAfter });
  };

  const checks = {
    redis: async () => (await redis.ping()) === 'PONG',
    ...Object.fromEntries(
      Object.entries(config.subgraphUrls).map(([name, url]) => [
        name,
        async () => {
          const res = await undiciRequest(new URL('/healthz', url), { dispatcher: agent, headersTimeout: 1_500, bodyTimeout: 1_500 });
          await res.body.dump();
          return res.statusCode === 200;
        },
      ]),
    ),
  };

  const cors = createCorsPolicy({ origins: config.corsOrigins, production: config.production });
  const activeStreams = new Set<AsyncIterableIterator<ExecutionResult>>();
  /** Open WebSockets and multipart streams per customer (or IP when anonymous), capped alike. */
  const connectionSlots = new ClientSlots(config.limits.wsMaxConnectionsPerClient);
  const takeConnectionSlot = (key: string): boolean => {
    if (connectionSlots.take(key)) return true;
    metrics.refusals.inc({ reason: 'ws_connections' });
    return false;
  };
  /** Active subscriptions per customer (or IP), over every WebSocket and multipart stream. */
  const subscriptionSlots = new ClientSlots(config.limits.maxSubscriptionsPerClient);
  let stopping = false;

  // --- HTTP
  const handleGraphQL = async (req: IncomingMessage, res: ServerResponse, scope: RequestScope, clientIp: string) => {
    const { correlationId } = scope;
    const url = new URL(req.url ?? '/', 'http://gateway');
    const isLandingPage = req.method === 'GET' && !url.searchParams.has('query') && !url.searchParams.has('extensions');
    let authenticated: Authenticated | null = null;
    if (!isLandingPage) {
      try {
        authenticated = await authenticator.authenticate(req.headers.authorization);
      } catch (err) {
        if (!(err instanceof InvalidTokenError)) throw err;
        metrics.refusals.inc({ reason: 'auth' });
        sendGraphQLError(res, 401, { message: `Unauthenticated: ${err.message}.`, extensions: { code: ErrorCode.UNAUTHENTICATED } }, { 'www-authenticate': 'Bearer' });
        return;
      }
      const limited = await rateLimited(clientKey(authenticated?.identity ?? null, clientIp), scope);
      if (limited) {
        sendRateLimited(res, limited);
        return;
      }
    }
    const identity = authenticated?.identity ?? null;
    let raw = '';
    if (req.method === 'POST') {
      try {
        raw = await readBody(req, config.limits.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          metrics.refusals.inc({ reason: 'body' });
          sendGraphQLError(res, 413, { message: err.message, extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE, maxBytes: err.limitBytes } }, { connection: 'close' });
          req.resume();
          return;
        }
        throw err;
      }
    }
    const contentType = req.headers['content-type'] ?? '';
    let body: unknown = raw;
    // By the media type alone: `text/plain; x=application/json` is not JSON (and is a simple, unpreflighted request).
    if (req.method === 'POST' && isJsonContentType(contentType)) {
      try {
        body = raw === '' ? {} : JSON.parse(raw);
      } catch {
        sendGraphQLError(res, 400, { message: 'The body is not valid JSON.', extensions: { code: ErrorCode.BAD_REQUEST } });
        return;
      }
    }
    const context: ApolloContext = {
      identity,
      correlationId,
      transport: 'http',
      get logger() {
        return scope.logger;
      },
    };

    // Subscriptions over multipart HTTP are ours; everything else goes to Apollo Server.
    if (req.method === 'POST' && acceptsMultipartSubscription(req.headers.accept)) {
      // This path runs before Apollo Server's CSRF prevention, so it applies the same rule itself.
      if (!isPreflighted(req.headers)) {
        metrics.refusals.inc({ reason: 'csrf' });
        sendGraphQLError(res, 400, {
          message: 'This request has been blocked as a potential Cross-Site Request Forgery: send Content-Type: application/json, or an apollo-require-preflight header.',
          extensions: { code: ErrorCode.BAD_REQUEST },
        });
        return;
      }
    }
    if (req.method === 'POST' && acceptsMultipartSubscription(req.headers.accept) && body && typeof body === 'object' && !Array.isArray(body)) {
      const { query, operationName, variables } = body as { query?: unknown; operationName?: unknown; variables?: unknown };
      if (typeof query === 'string' && /\bsubscription\b/.test(query)) {
        const vars = variables && typeof variables === 'object' ? (variables as Record<string, unknown>) : {};
        const prepared = prepareSubscription(query, typeof operationName === 'string' ? operationName : undefined, vars);
        if (prepared.kind === 'errors') {
          res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ errors: prepared.errors.map((e) => formatError(e.toJSON())) }));
          return;
        }
        if (prepared.kind === 'subscription') {
          // An open multipart stream holds a connection like a WebSocket does, and one subscription: same per-client caps.
          const key = clientKey(identity, clientIp);
          if (!takeConnectionSlot(key)) {
            sendGraphQLError(res, 429, { message: 'Too many open subscriptions for this client.', extensions: { code: ErrorCode.RATE_LIMITED } });
            return;
          }
          if (!subscriptionSlots.take(key)) {
            connectionSlots.release(key);
            metrics.refusals.inc({ reason: 'subscriptions' });
            sendGraphQLError(res, 429, tooManySubscriptions('client', subscriptionSlots.max).toJSON());
            return;
          }
          const stream = subscriptions.subscribe(prepared.planned, context, 'multipart');
          activeStreams.add(stream);
          metrics.requests.inc({ operation: (operationName as string | undefined) ?? '(anonymous)', type: 'subscription', transport: 'multipart', outcome: 'ok' });
          // The stream ends with UNAUTHENTICATED when the token expires, as a WebSocket is closed then.
          const expired = new AbortController();
          const stopWatch = authenticated ? tokenExpiry.watch(authenticated.expiresAtMs, () => expired.abort()) : undefined;
          try {
            await streamMultipart(req, res, stream, { heartbeatMs: config.multipartHeartbeatMs, formatError, end: { signal: expired.signal, error: tokenExpired } });
          } finally {
            stopWatch?.();
            activeStreams.delete(stream);
            connectionSlots.release(key);
            subscriptionSlots.release(key);
          }
          return;
        }
      }
    }

    if (fastPath && req.method === 'POST' && mediaTypeOf(contentType) === 'application/json' && (await fastPath.run(body, req.headers.accept, context, res))) return;

    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => context,
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  };

  const server = createServer((req, res) => {
    const correlationId = correlationIdFrom(req.headers);
    res.setHeader(CORRELATION_HEADER, correlationId);
    const scope = new RequestScope(logger, correlationId);
    if (logger.isLevelEnabled('debug')) {
      const log = scope.logger;
      const started = process.hrtime.bigint();
      res.once('finish', () =>
        log.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'http request'),
      );
    }
    const path = (req.url ?? '/').split('?')[0];
    void (async () => {
      if (await handleOpsRequest(req, res, { checks, registry: metrics.registry })) return;
      if (path !== '/graphql' && path !== '/auth/dev-token') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
        return;
      }
      if (cors.handle(req, res)) return;
      // Per address, before the token is even looked at: bad tokens count too.
      const clientIp = clientAddresses.of(req);
      const ipLimited = await ipRateLimited(clientIp, scope);
      if (ipLimited) {
        sendRateLimited(res, ipLimited);
        return;
      }
      if (path === '/auth/dev-token') {
        if (req.method === 'GET') await serveDevToken(req, res, { enabled: config.devTokens, signing: config.auth });
        else res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
        return;
      }
      if (stopping) {
        sendGraphQLError(res, 503, { message: 'The gateway is shutting down.', extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } }, { connection: 'close' });
        return;
      }
      await handleGraphQL(req, res, scope, clientIp);
    })().catch((err: unknown) => {
      // A client that went away mid-request (its body cut off) is no fault of ours: no stack, no error-log volume.
      if (req.destroyed || res.destroyed) scope.logger.info({ reason: (err as Error).message }, 'client went away during the request');
      else scope.logger.error({ err }, 'request failed');
      sendGraphQLError(res, 500, formatError({ message: (err as Error).message, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }));
    });
  });
  server.keepAliveTimeout = 65_000;

  // --- WebSocket (graphql-transport-ws) on the same path
  // No compression: the fan-out writes finished frames straight to the sockets (websocket.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.wsMaxMessageBytes, perMessageDeflate: false });
  const admission = new UpgradeAdmission({
    addresses: clientAddresses,
    maxPendingPerIp: config.limits.wsMaxPendingPerIp,
    maxPending: config.limits.wsMaxPending,
    overIpLimit: async (clientIp) => (await ipRateLimited(clientIp, { logger })) !== undefined,
    onRefused: (reason) => metrics.refusals.inc({ reason }),
  });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/graphql' || stopping) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    admission.admit(req, socket, () => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  });

  interface OperationContext {
    gateway: GatewayContext;
    /** Subscriptions: the plan, until the subscription is attached to its group. */
    planned?: PlannedSubscription | undefined;
    operationName?: string | undefined;
    /** Queries and mutations over WebSocket: what Apollo Server executes. */
    request?: GraphQLRequest;
    /** The graphql-ws subscription id and its socket, for writing events straight to it. */
    id: string;
    socket: WebSocket;
    /** Subscriptions: the per-client slot it holds (with one of its socket's), given back when it ends. */
    slot?: string | undefined;
    connection?: ConnectionState;
  }

  const wsServer = serveGraphQLOverWebSocket<Record<string, unknown> | undefined>(
    {
      onConnect: async (ctx) => {
        const extra = ctx.extra;
        const params = ctx.connectionParams ?? {};
        const authorization = params.Authorization ?? params.authorization;
        // graphql-ws keeps the connection params for the life of the socket; the token is not needed after this.
        delete (params as Record<string, unknown>).Authorization;
        delete (params as Record<string, unknown>).authorization;
        let authenticated: Authenticated | null;
        try {
          authenticated = await authenticator.authenticate(authorization);
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
        if (!takeConnectionSlot(key)) {
          extra.socket.close(CLOSE_TOO_MANY, 'Too many connections for this client');
          return false;
        }
        const { connection } = extra;
        connection.releasePending?.();
        connection.releasePending = undefined;
        if (authenticated) {
          // The identity was checked once, here: the socket must not outlive the token.
          connection.expiresAtMs = authenticated.expiresAtMs;
          connection.stopExpiryWatch = tokenExpiry.watch(authenticated.expiresAtMs, () => {
            metrics.refusals.inc({ reason: 'token_expired' });
            extra.socket.close(CLOSE_FORBIDDEN, 'Token expired');
          });
        }
        const correlationId = correlationIdFrom(params as Record<string, unknown>);
        extra.connection.slot = key;
        // The child logger is made on first use: most connections never log, and 10,000 of them add up.
        let child: Logger | undefined;
        extra.connection.context = {
          identity,
          correlationId,
          get logger() {
            return (child ??= logger.child({ correlationId }));
          },
        };
        metrics.wsConnections.inc();
        return true;
      },
      onClose: (ctx) => {
        const { connection } = ctx.extra;
        connection.stopExpiryWatch?.();
        connection.stopExpiryWatch = undefined;
        if (connection.slot) {
          connectionSlots.release(connection.slot);
          connection.slot = undefined;
          metrics.wsConnections.dec();
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const { connection, socket, clientIp } = ctx.extra;
        const gatewayContext = connection.context;
        if (!gatewayContext) return [new GraphQLError('Not connected.', { extensions: { code: ErrorCode.UNAUTHENTICATED } })];
        // The expiry watch closes the socket within a tick of `exp`; nothing is served in between.
        if (connection.expiresAtMs !== undefined && Date.now() >= connection.expiresAtMs) {
          socket.close(CLOSE_FORBIDDEN, 'Token expired');
          return [tokenExpired()];
        }
        // The context itself, not its logger: a connection's child logger is only made when something is logged.
        const limited = await rateLimited(clientKey(gatewayContext.identity, clientIp), gatewayContext);
        if (limited) return [limited];
        const variables = (payload.variables ?? {}) as Record<string, unknown>;
        const operationName = payload.operationName ?? undefined;
        const request: GraphQLRequest = { query: payload.query, variables, ...(operationName ? { operationName } : {}), ...(payload.extensions ? { extensions: payload.extensions } : {}) };
        if (typeof payload.query !== 'string' || payload.query === '') {
          // A persisted query without its text: Apollo Server resolves it (queries and mutations only).
          return { schema: currentSchema(), document: parse('{ __typename }'), contextValue: { gateway: gatewayContext, request, id, socket: ctx.extra.socket } satisfies OperationContext };
        }
        const prepared = prepareSubscription(payload.query, operationName, variables);
        if (prepared.kind === 'errors') return [...prepared.errors];
        if (prepared.kind === 'other') {
          return {
            schema: currentSchema(),
            document: prepared.document,
            operationName,
            variableValues: variables,
            contextValue: { gateway: gatewayContext, request, id, socket: ctx.extra.socket } satisfies OperationContext,
          };
        }
        // Checked and taken with no await before `subscribe` runs, so a burst of subscribe messages cannot overshoot.
        if (connection.subscriptions >= config.limits.wsMaxSubscriptionsPerSocket) {
          metrics.refusals.inc({ reason: 'subscriptions' });
          return [tooManySubscriptions('socket', config.limits.wsMaxSubscriptionsPerSocket)];
        }
        const slot = clientKey(gatewayContext.identity, clientIp);
        if (!subscriptionSlots.take(slot)) {
          metrics.refusals.inc({ reason: 'subscriptions' });
          return [tooManySubscriptions('client', subscriptionSlots.max)];
        }
        connection.subscriptions++;
        // graphql-ws keeps the message for the life of the subscription: let it hold the shared copy of the text.
        (payload as { query: string }).query = prepared.planned.request.query;
        return {
          schema: currentSchema(),
          document: prepared.planned.request.document,
          operationName,
          variableValues: variables,
          contextValue: { gateway: gatewayContext, planned: prepared.planned, operationName, id, socket, slot, connection } satisfies OperationContext,
        };
      },
      subscribe: (args) => {
        const op = args.contextValue as OperationContext;
        const planned = op.planned;
        if (!planned) return { errors: [new GraphQLError('Not a subscription.')] };
        // Held by graphql-ws for as long as the subscription lives; the group has what it needs.
        op.planned = undefined;
        metrics.requests.inc({ operation: op.operationName ?? '(anonymous)', type: 'subscription', transport: 'ws', outcome: 'ok' });
        // graphql-ws drives the operation through `control` (it sends `complete` when that ends, and
        // returns it when the client leaves); the events themselves go straight to the socket.
        const control = new Pushable<ExecutionResult>();
        const subscriber = socketSubscriber(op.socket, op.id, control, () => {
          metrics.refusals.inc({ reason: 'slow_consumer' });
          op.gateway.logger.warn({ id: op.id }, 'closing a WebSocket that stopped reading');
        });
        const leave = subscriptions.attach(planned, op.gateway, 'ws', subscriber);
        const { slot, connection } = op;
        op.slot = undefined;
        control.onEnd(() => {
          leave();
          if (slot) subscriptionSlots.release(slot);
          if (connection) connection.subscriptions--;
        });
        return control;
      },
      // Queries and mutations over WebSocket come back from Apollo Server with formatted (plain)
      // errors; graphql-ws's default would call toJSON() on each. Send results as they are (real
      // GraphQLErrors still serialize through their own toJSON).
      onNext: (_ctx, _id, _payload, _args, result) => result,
      // Refusals of a subscribe message (validation, planning, limits) go through the one formatter too.
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON())),
      execute: async (args) => {
        const op = args.contextValue as OperationContext;
        if (!op.request) return { errors: [new GraphQLError('Not a query or mutation.')] };
        const response = await apollo.executeOperation(op.request, { contextValue: { ...op.gateway, transport: 'ws' } });
        if (response.body.kind !== 'single') return { errors: [new GraphQLError('Incremental delivery is not supported over WebSocket.')] };
        const { data, errors, extensions } = response.body.singleResult;
        return { ...(data !== undefined ? { data } : {}), ...(errors ? { errors: errors as GraphQLFormattedError[] } : {}), ...(extensions ? { extensions } : {}) } as ExecutionResult;
      },
    },
    wss,
    {
      keepAliveMs: config.wsKeepAliveMs,
      production: config.production,
      logger,
      admitted: (request) => admission.admission(request),
      // Every message counts toward its IP (pings included) without waiting for the count: the socket is closed when over.
      onMessageReceived: (extra) => {
        if (config.limits.ipRateLimit <= 0) return;
        void ipRateLimited(extra.clientIp, { logger }).then((limited) => {
          if (limited && extra.socket.readyState === WebSocket.OPEN) extra.socket.close(CLOSE_TOO_MANY, 'Too many requests');
        });
      },
      onSocketClosed: (extra) => {
        extra.connection.releasePending?.();
        extra.connection.releasePending = undefined;
      },
    },
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url: `${url}/graphql`, production: config.production }, 'gateway ready');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopping = true;
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const client of wss.clients) client.close(1001, 'Going away');
      await Promise.resolve(wsServer.dispose()).catch(() => undefined);
      logger.debug('websockets closed');
      for (const stream of activeStreams) void stream.return?.();
      subscriptions.closeAll();
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([drained, grace]);
      logger.debug('http drained');
      server.closeAllConnections();
      for (const client of wss.clients) client.terminate();
      tokenExpiry.close();
      await apollo.stop().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'apollo stop failed'));
      logger.debug('apollo stopped');
      watcher?.close();
      await Promise.all([rateLimiter.flush(), ipRateLimiter.flush()]).catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      await agent.close().catch(() => undefined);
      logger.info('gateway stopped');
    })());

  return { url, port, close, subscriptions };
}
