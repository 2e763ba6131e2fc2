import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionResult } from 'graphql';
import { WebSocketServer } from 'ws';
import { connectRedis, createLogger, type Logger } from '@shop/service-kit';
import { createAuthenticator } from './middleware/auth.js';
import { ClientAddresses } from './middleware/client-address.js';
import type { GatewayConfig } from './config.js';
import { createCorsPolicy } from './middleware/cors.js';
import { Engine } from './engine/engine.js';
import { createErrorFormatter } from './error-masking.js';
import { SubgraphClient } from './execution/subgraph-client.js';
import { ClientLimits, RateLimits } from './middleware/guards.js';
import { createMetrics } from './metrics.js';
import type { FederatedSubscriptions } from './subscriptions/federated.js';
import { readSupergraph } from './supergraph/source.js';
import { TokenExpiry } from './middleware/token-expiry.js';
import { graphQLWsCallbacks, CLOSE_TOO_MANY } from './transports/graphql-ws.js';
import { createHttpEdge } from './transports/http-server.js';
import { sandboxLandingPage } from './transports/landing-page.js';
import { UpgradeAdmission } from './middleware/upgrade-admission.js';
import { serveGraphQLOverWebSocket } from './transports/websocket-server.js';

export interface RunningGateway {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Drains HTTP, closes WebSockets with 1001 and every upstream subscription, then Redis. */
  close(): Promise<void>;
  /** For tests and diagnostics. */
  readonly subscriptions: FederatedSubscriptions;
}

/** Starts the gateway in-process (used by `main.ts` and the tests): wiring only. */
export async function startGateway(config: GatewayConfig, opts: { logger?: Logger } = {}): Promise<RunningGateway> {
  const logger = opts.logger ?? createLogger('gateway', config.logLevel);
  const metrics = createMetrics();
  const formatError = createErrorFormatter(config.production);
  const client = new SubgraphClient(config.identitySecret, metrics, config.dedupOff);
  const engine = new Engine({
    limits: config.limits,
    production: config.production,
    executor: config.queryExecutor,
    client,
    metrics,
    formatError,
    subgraphUrls: config.subgraphUrls,
    identitySecret: config.identitySecret,
    upstreamRetryAttempts: config.upstreamRetryAttempts,
    shareQueries: config.dedupInbound,
  });
  const supergraph = await readSupergraph(config.supergraphPath, { watch: config.watchSupergraph, logger, onChange: (sdl) => engine.load(sdl) });
  engine.load(supergraph.sdl);
  client.startHealthChecks(config.subgraphHealthIntervalMs, config.subgraphHealthTimeoutMs);

  const redis = await connectRedis(config, logger, { maxRetriesPerRequest: 2 });
  const rateLimits = new RateLimits(redis, config.limits, metrics);
  const clientLimits = new ClientLimits(config.limits, metrics);
  const authenticator = createAuthenticator(config.auth);
  const addresses = new ClientAddresses(config.trustedProxies);
  const tokenExpiry = new TokenExpiry();
  const streams = new Set<AsyncIterableIterator<ExecutionResult>>();
  let stopping = false;

  const readiness = {
    redis: async () => (await redis.ping()) === 'PONG',
    ...Object.fromEntries(client.subgraphs.map((name) => [name, () => client.healthy(name)])),
  };
  const server = createServer(
    createHttpEdge({
      config,
      engine,
      logger,
      metrics,
      registry: metrics.registry,
      readiness,
      cors: createCorsPolicy({ origins: config.corsOrigins, production: config.production }),
      addresses,
      authenticator,
      rateLimits,
      clientLimits,
      tokenExpiry,
      formatError,
      landingPage: config.production ? undefined : await sandboxLandingPage(),
      stopping: () => stopping,
      streams,
    }),
  );
  server.keepAliveTimeout = 65_000;

  // --- WebSocket (graphql-transport-ws) on the same path
  // No compression: the fan-out writes finished frames straight to the sockets (websocket.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.wsMaxMessageBytes, perMessageDeflate: false });
  const admission = new UpgradeAdmission({
    addresses,
    maxPendingPerIp: config.limits.wsMaxPendingPerIp,
    maxPending: config.limits.wsMaxPending,
    overIpLimit: async (clientIp) => (await rateLimits.ip(clientIp, { logger })) !== undefined,
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
  const wsServer = serveGraphQLOverWebSocket(
    graphQLWsCallbacks({ engine, authenticator, rateLimits, clientLimits, tokenExpiry, metrics, formatError, logger, maxSubscriptionsPerSocket: config.limits.wsMaxSubscriptionsPerSocket }),
    wss,
    {
      keepAliveMs: config.wsKeepAliveMs,
      production: config.production,
      logger,
      admitted: (request) => admission.admission(request),
      // Every message counts toward its IP (pings included) without waiting for the count: the socket is closed when over.
      onMessageReceived: (extra) => {
        if (!rateLimits.ipLimited) return;
        void Promise.resolve(rateLimits.ip(extra.clientIp, { logger })).then((limited) => {
          if (limited && extra.socket.readyState === extra.socket.OPEN) extra.socket.close(CLOSE_TOO_MANY, 'Too many requests');
        });
      },
      onSocketClosed: (extra) => {
        extra.connection.pending?.release();
        extra.connection.pending = undefined;
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
      for (const socket of wss.clients) socket.close(1001, 'Going away');
      await Promise.resolve(wsServer.dispose()).catch(() => undefined);
      logger.debug('websockets closed');
      for (const stream of streams) void stream.return?.();
      engine.close();
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([drained, grace]);
      logger.debug('http drained');
      server.closeAllConnections();
      for (const socket of wss.clients) socket.terminate();
      tokenExpiry.close();
      supergraph.close();
      await rateLimits.flush();
      await redis.quit().catch(() => redis.disconnect());
      await client.close();
      logger.info('gateway stopped');
    })());

  return { url, port, close, subscriptions: engine.subscriptions };
}
