import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer, HeaderMap, type GraphQLRequest } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { Redis } from 'ioredis';
import type { DocumentNode, ExecutionResult, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { request as undiciRequest } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import {
  CORRELATION_HEADER,
  ErrorCode,
  connectRedis,
  correlationIdFrom,
  createLogger,
  handleOpsRequest,
  type Identity,
  type Logger,
} from '@shop/service-kit';
import { GraphQLError, getOperationAST, getVariableValues, parse } from './graphql.js';
import { complexityPlugin, metricsPlugin, type Transport } from './apollo-plugins.js';
import { createCorsPolicy } from './cors.js';
import { createAuthenticator, InvalidTokenError, signDevToken } from './auth.js';
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
import { serveGraphQLOverWebSocket, socketSubscriber } from './websocket.js';

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

const SAFE_SUB = /^[A-Za-z0-9._:@-]{1,128}$/;
/** How long a request waits for the rate limiter before going through without it. */
const RATE_LIMIT_TIMEOUT_MS = 1_000;

function wsUrlOf(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function clientKey(identity: Identity | null, remoteAddress: string | undefined): string {
  return identity ? `sub:${identity.sub}` : `ip:${remoteAddress ?? 'unknown'}`;
}

/** Starts the gateway in-process (used by `main.ts` and the tests). */
export async function startGateway(config: GatewayConfig, opts: { logger?: Logger } = {}): Promise<RunningGateway> {
  const logger = opts.logger ?? createLogger('gateway', config.logLevel);
  const metrics = createMetrics();
  const agent = createSubgraphAgent();
  const authenticator = createAuthenticator(config.auth);

  const redis: Redis = await connectRedis(config.redisUrl, logger, { maxRetriesPerRequest: 2 });
  const rateLimiter: RateLimiter = createRateLimiter(redis, {
    limit: config.limits.rateLimit,
    windowMs: config.limits.rateLimitWindowMs,
    keyPrefix: 'shop:gateway:rate:',
  });

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

  const formatError = (formatted: GraphQLFormattedError): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (config.production && (code === undefined || code === ErrorCode.INTERNAL_SERVER_ERROR)) {
      return { message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    return formatted;
  };

  const apollo = new ApolloServer<ApolloContext>({
    gateway: servedGateway,
    logger,
    csrfPrevention: true,
    introspection: !config.production,
    allowBatchedHttpRequests: false,
    // main.ts owns SIGTERM/SIGINT: Apollo's own handler would stop the server under our feet.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: !config.production,
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
          includeStacktrace: !config.production,
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
    if (!operation) return { kind: 'errors', errors: [new GraphQLError('Unknown or ambiguous operation name.', { extensions: { code: 'BAD_USER_INPUT' } })] };
    if (operation.operation !== 'subscription') return { kind: 'other', document };
    // Checked here, before the variables key a shared upstream subscription or reach a subgraph.
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 5 });
    if (coerced.errors) return { kind: 'errors', errors: coerced.errors.map((e) => new GraphQLError(e.message, { extensions: { code: 'BAD_USER_INPUT' } })) };
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

  const rateLimited = async (key: string, log: { readonly logger: Logger }): Promise<GraphQLError | undefined> => {
    if (config.limits.rateLimit <= 0) return undefined;
    try {
      // Fail open fast: a slow or reconnecting Redis must not add its timeouts to every request.
      let timer: NodeJS.Timeout | undefined;
      const decision = await Promise.race([
        rateLimiter.hit(key),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('rate limiter timed out')), RATE_LIMIT_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      if (decision.allowed) return undefined;
      metrics.refusals.inc({ reason: 'rate' });
      return new GraphQLError(`Too many requests: at most ${config.limits.rateLimit} per ${config.limits.rateLimitWindowMs / 1000} s.`, {
        extensions: { code: ErrorCode.RATE_LIMITED, retryAfterMs: decision.resetMs },
      });
    } catch (err) {
      // Redis trouble must not take the API down: let the request through, loudly.
      log.logger.warn({ err: (err as Error).message }, 'rate limiter unavailable; allowing the request');
      return undefined;
    }
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
  const connectionsPerClient = new Map<string, number>();
  const takeConnectionSlot = (key: string): boolean => {
    const open = connectionsPerClient.get(key) ?? 0;
    if (open >= config.limits.wsMaxConnectionsPerClient) {
      metrics.refusals.inc({ reason: 'ws_connections' });
      return false;
    }
    connectionsPerClient.set(key, open + 1);
    return true;
  };
  const releaseConnectionSlot = (key: string): void => {
    const left = (connectionsPerClient.get(key) ?? 1) - 1;
    if (left <= 0) connectionsPerClient.delete(key);
    else connectionsPerClient.set(key, left);
  };
  let stopping = false;

  // --- HTTP
  const handleGraphQL = async (req: IncomingMessage, res: ServerResponse, scope: RequestScope) => {
    const { correlationId } = scope;
    const url = new URL(req.url ?? '/', 'http://gateway');
    const isLandingPage = req.method === 'GET' && !url.searchParams.has('query') && !url.searchParams.has('extensions');
    let identity: Identity | null = null;
    if (!isLandingPage) {
      try {
        identity = await authenticator.authenticate(req.headers.authorization);
      } catch (err) {
        if (!(err instanceof InvalidTokenError)) throw err;
        metrics.refusals.inc({ reason: 'auth' });
        sendGraphQLError(res, 401, { message: `Unauthenticated: ${err.message}.`, extensions: { code: ErrorCode.UNAUTHENTICATED } }, { 'www-authenticate': 'Bearer' });
        return;
      }
      const limited = await rateLimited(clientKey(identity, req.socket.remoteAddress), scope);
      if (limited) {
        const retryAfter = String(Math.max(1, Math.ceil(Number(limited.extensions.retryAfterMs) / 1000)));
        sendGraphQLError(res, 429, limited.toJSON(), { 'retry-after': retryAfter });
        return;
      }
    }
    let raw = '';
    if (req.method === 'POST') {
      try {
        raw = await readBody(req, config.limits.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          metrics.refusals.inc({ reason: 'body' });
          sendGraphQLError(res, 413, { message: err.message, extensions: { code: 'PAYLOAD_TOO_LARGE', maxBytes: err.limitBytes } }, { connection: 'close' });
          req.resume();
          return;
        }
        throw err;
      }
    }
    const contentType = req.headers['content-type'] ?? '';
    let body: unknown = raw;
    if (req.method === 'POST' && /application\/(graphql-response\+)?json/i.test(contentType)) {
      try {
        body = raw === '' ? {} : JSON.parse(raw);
      } catch {
        sendGraphQLError(res, 400, { message: 'The body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } });
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
    if (req.method === 'POST' && acceptsMultipartSubscription(req.headers.accept) && body && typeof body === 'object' && !Array.isArray(body)) {
      const { query, operationName, variables } = body as { query?: unknown; operationName?: unknown; variables?: unknown };
      if (typeof query === 'string' && /\bsubscription\b/.test(query)) {
        const vars = variables && typeof variables === 'object' ? (variables as Record<string, unknown>) : {};
        const prepared = prepareSubscription(query, typeof operationName === 'string' ? operationName : undefined, vars);
        if (prepared.kind === 'errors') {
          res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ errors: prepared.errors }));
          return;
        }
        if (prepared.kind === 'subscription') {
          // An open multipart stream holds a connection like a WebSocket does: same per-client cap.
          const key = clientKey(identity, req.socket.remoteAddress);
          if (!takeConnectionSlot(key)) {
            sendGraphQLError(res, 429, { message: 'Too many open subscriptions for this client.', extensions: { code: ErrorCode.RATE_LIMITED } });
            return;
          }
          const stream = subscriptions.subscribe(prepared.planned, context, 'multipart');
          activeStreams.add(stream);
          metrics.requests.inc({ operation: (operationName as string | undefined) ?? '(anonymous)', type: 'subscription', transport: 'multipart', outcome: 'ok' });
          try {
            await streamMultipart(req, res, stream, { heartbeatMs: config.multipartHeartbeatMs });
          } finally {
            activeStreams.delete(stream);
            releaseConnectionSlot(key);
          }
          return;
        }
      }
    }

    if (fastPath && req.method === 'POST' && /^application\/json\s*(;|$)/i.test(contentType) && (await fastPath.run(body, req.headers.accept, context, res))) return;

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
      if ((path === '/graphql' || path === '/auth/dev-token') && cors.handle(req, res)) return;
      if (path === '/auth/dev-token' && req.method === 'GET') {
        if (config.production) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
          return;
        }
        const params = new URL(req.url ?? '/', 'http://gateway').searchParams;
        const sub = params.get('sub') ?? '';
        if (!SAFE_SUB.test(sub)) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'sub must be 1..128 characters of [A-Za-z0-9._:@-]' }));
          return;
        }
        const roles = (params.get('roles') ?? '').split(',').map((r) => r.trim()).filter(Boolean);
        const token = await signDevToken(config.auth.jwtSecret, sub, roles);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ token }));
        return;
      }
      if (path === '/graphql') {
        if (stopping) {
          sendGraphQLError(res, 503, { message: 'The gateway is shutting down.', extensions: { code: 'SERVICE_UNAVAILABLE' } }, { connection: 'close' });
          return;
        }
        await handleGraphQL(req, res, scope);
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
    })().catch((err: unknown) => {
      scope.logger.error({ err }, 'request failed');
      sendGraphQLError(res, 500, { message: config.production ? 'Internal server error' : (err as Error).message, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } });
    });
  });
  server.keepAliveTimeout = 65_000;

  // --- WebSocket (graphql-transport-ws) on the same path
  // No compression: the fan-out writes finished frames straight to the sockets (websocket.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.wsMaxMessageBytes, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/graphql' || stopping) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
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
        let identity: Identity | null;
        try {
          identity = await authenticator.authenticate(authorization);
        } catch (err) {
          if (!(err instanceof InvalidTokenError)) throw err;
          metrics.refusals.inc({ reason: 'auth' });
          return false; // graphql-ws closes with 4403 Forbidden
        }
        // Closed while the token was being checked: graphql-ws has already run onClose for it, so
        // counting it now would hold one of the client's connection slots forever.
        if (extra.socket.readyState !== WebSocket.OPEN) return false;
        const key = clientKey(identity, extra.remoteAddress);
        if (!takeConnectionSlot(key)) {
          extra.socket.close(4429, 'Too many connections for this client');
          return false;
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
        if (connection.slot) {
          releaseConnectionSlot(connection.slot);
          connection.slot = undefined;
          metrics.wsConnections.dec();
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const gatewayContext = ctx.extra.connection.context;
        if (!gatewayContext) return [new GraphQLError('Not connected.', { extensions: { code: ErrorCode.UNAUTHENTICATED } })];
        // The context itself, not its logger: a connection's child logger is only made when something is logged.
        const limited = await rateLimited(clientKey(gatewayContext.identity, ctx.extra.remoteAddress), gatewayContext);
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
        // graphql-ws keeps the message for the life of the subscription: let it hold the shared copy of the text.
        (payload as { query: string }).query = prepared.planned.request.query;
        return {
          schema: currentSchema(),
          document: prepared.planned.request.document,
          operationName,
          variableValues: variables,
          contextValue: { gateway: gatewayContext, planned: prepared.planned, operationName, id, socket: ctx.extra.socket } satisfies OperationContext,
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
        control.onEnd(subscriptions.attach(planned, op.gateway, 'ws', subscriber));
        return control;
      },
      // Queries and mutations over WebSocket come back from Apollo Server with formatted (plain)
      // errors; graphql-ws's default would call toJSON() on each. Send results as they are (real
      // GraphQLErrors still serialize through their own toJSON).
      onNext: (_ctx, _id, _payload, _args, result) => result,
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
    { keepAliveMs: config.wsKeepAliveMs, production: config.production, logger },
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
      await apollo.stop().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'apollo stop failed'));
      logger.debug('apollo stopped');
      watcher?.close();
      await rateLimiter.flush().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      await agent.close().catch(() => undefined);
      logger.info('gateway stopped');
    })());

  return { url, port, close, subscriptions };
}
