import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type GraphQLRequestListener } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError, GraphQLSchema, ExecutionResult } from 'graphql';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { handleOpsRequest, type ReadinessCheck } from './ops-routes.js';
import { requestIdentityFrom, type RequestIdentity } from './auth.js';
import { ErrorCode, isApiErrorCode, isClientFacingCode } from './errors.js';
import { serveGraphQLWs } from './graphql-ws-server.js';
import { createWsOperations } from './ws-operations.js';
import { contextOf, inSpan, SpanKind } from '@shop/events';

export interface SubgraphServerOptions<TContext extends object> {
  /** Service name, for logs. */
  readonly name: string;
  /** The subgraph schema (`buildSubgraphSchema(...)`), served over HTTP and graphql-ws. */
  readonly schema: GraphQLSchema;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly logger: Logger;
  /** Secret of the signed `x-shop-identity` header / connection_init key. */
  readonly identitySecret: string;
  /** The audience the identity header must name (the subgraph's name in the supergraph); default `name`. */
  readonly audience?: string;
  /** Builds the per-operation context (loaders etc.) from the verified caller. */
  readonly context: (base: RequestIdentity, transport: { readonly kind: 'http' | 'ws' }) => TContext | Promise<TContext>;
  /** Dependency checks for `/readyz`. */
  readonly checks: ReadinessCheck;
  readonly registry: Registry;
  /** Masks internal error messages and disables introspection/stack traces. */
  readonly production: boolean;
  /** Largest accepted request body and WebSocket message, default 1 MiB. */
  readonly maxBodyBytes?: number;
}

export interface RunningServer {
  /** `http://host:port/graphql` (the same path serves WebSocket). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const INTERNAL_MESSAGE = 'Internal server error';

/**
 * Error formatting shared by HTTP and WebSocket: in production everything without a public code
 * (or with INTERNAL_SERVER_ERROR) is replaced by a generic message so no internals leak.
 */
export function createErrorFormatter(production: boolean, logger: Logger) {
  return (formatted: GraphQLFormattedError): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (isClientFacingCode(code)) {
      const { http: _http, stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return production ? { ...formatted, extensions } : formatted;
    }
    logger.error({ err: formatted.message, path: formatted.path }, 'internal error in resolver');
    if (!production) return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR } };
    return { message: INTERNAL_MESSAGE, ...(formatted.path ? { path: formatted.path } : {}), extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}

/**
 * The request body as text. A body over `limit` bytes rejects with status 413 and the rest of it
 * is not read (the 413 answer still goes out on the connection).
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  // Plain listeners instead of an async iterator over the request, which costs several times as
  // much per request; inline (unnamed) functions, since tsx wraps each named one in a `__name` call.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        req.pause();
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    req.on('close', () => {
      if (settled) return;
      settled = true;
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
  });
}

const HTTP_TRANSPORT = { kind: 'http' } as const;
const WS_TRANSPORT = { kind: 'ws' } as const;

/**
 * The per-request hooks, one object for every request. A subgraph answers its GraphQL errors
 * (BAD_USER_INPUT, CONFLICT, …) with HTTP 200 and `extensions.code`, as federation expects: a
 * gateway treats a 4xx from a subgraph as the subgraph failing and would turn the code into
 * INTERNAL_SERVER_ERROR. The gateway picks its own HTTP status for the client.
 *
 * `cache-control: no-store` is what Apollo's cache-control plugin answers for this schema (no
 * `@cacheControl` hints, default max age 0, so nothing is ever cacheable). That plugin is
 * disabled because it wraps every resolver call with per-field bookkeeping; this sets the same
 * header on the same responses (those of the request pipeline, errors included).
 */
const subgraphRequestListener: GraphQLRequestListener<object> = {
  async willSendResponse({ response }) {
    if (!response.http.headers.has('cache-control')) response.http.headers.set('cache-control', 'no-store');
    if (response.body.kind !== 'single') return;
    const errors = response.body.singleResult.errors;
    if (errors?.length && errors.every((e) => isApiErrorCode(e.extensions?.code))) response.http.status = 200;
  },
};
const subgraphResponsePlugin: ApolloServerPlugin<object> = {
  async requestDidStart() {
    return subgraphRequestListener;
  },
};

/**
 * One node:http server per subgraph: Apollo Server 5 on `/graphql` (POST/GET), graphql-ws on the
 * same path (upgrade), plus `/healthz`, `/readyz`, `/metrics`. Identity comes from the signed
 * `x-shop-identity` header (HTTP) or the same key in `connection_init` (WebSocket).
 */
export async function startSubgraphServer<TContext extends object>(opts: SubgraphServerOptions<TContext>): Promise<RunningServer> {
  const formatError = createErrorFormatter(opts.production, opts.logger);
  const apollo = new ApolloServer<TContext>({
    schema: opts.schema,
    formatError,
    introspection: !opts.production,
    includeStacktraceInErrorResponses: !opts.production,
    logger: opts.logger,
    // The service's main.ts owns SIGTERM (consumers must leave their groups first); Apollo's own
    // handler would re-raise the signal and kill the process half-way through that.
    stopOnTerminationSignals: false,
    // No federated traces (ftv1): the gateway never asks for them (it traces with OpenTelemetry), and the plugin
    // costs every request a trace tree all the same.
    plugins: [subgraphResponsePlugin, ApolloServerPluginCacheControlDisabled(), ApolloServerPluginInlineTraceDisabled()],
  });
  await apollo.start();
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  const audience = opts.audience ?? opts.name;

  // Returned inline (not a named property) so tsx adds no `__name` call per request.
  function httpContext(req: IncomingMessage): () => Promise<TContext> {
    return async () => opts.context(requestIdentityFrom(req.headers, opts.identitySecret, audience), HTTP_TRANSPORT);
  }

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown;
    if (req.method === 'POST') {
      const text = await readBody(req, maxBodyBytes);
      const type = headers.get('content-type') ?? '';
      if (type.includes('application/json')) {
        try {
          body = text ? JSON.parse(text) : {};
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'Malformed JSON body', extensions: { code: ErrorCode.BAD_REQUEST } }] }));
          return;
        }
      } else body = text;
    }
    const result = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest: { method: req.method ?? 'GET', headers, search, body }, context: httpContext(req) });
    const outHeaders: Record<string, string> = {};
    for (const [key, value] of result.headers) outHeaders[key] = value;
    res.writeHead(result.status ?? 200, outHeaders);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  }

  /** A server span per GraphQL request, child of the caller's `traceparent` (the gateway's fetch span). */
  function traced(req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    const method = req.method ?? 'GET';
    return inSpan(`${method} /graphql`, SpanKind.SERVER, { 'http.request.method': method, 'url.path': '/graphql', 'server.service': opts.name }, () => handleGraphQL(req, res, search), contextOf(req.headers));
  }

  const ops = { checks: opts.checks, registry: opts.registry };
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The common case, `/graphql` without a query string, skips the URL parser (no ops route has that path).
    if (req.url === '/graphql') return traced(req, res, '');
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (await handleOpsRequest(req, res, ops)) return;
    if (url.pathname === '/graphql') return traced(req, res, url.search);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  };
  const http = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = (err as { status?: number }).status ?? 500;
      // A client's fault (an oversized body) is no error of ours: no stack, and no error-log volume for a client to drive.
      if (status < 500) opts.logger.info({ status, reason: (err as Error).message }, 'http request refused');
      else opts.logger.error({ err }, 'http request failed');
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: status === 413 ? 'Request body too large' : INTERNAL_MESSAGE }] }));
    });
  });

  // Only the gateway speaks WebSocket to a subgraph: `maxPayload` as for HTTP bodies (ws would take 100 MiB).
  const wss = new WebSocketServer({ server: http, path: '/graphql', maxPayload: maxBodyBytes });
  /** Who each connection speaks for, checked once at connection_init (the header is only valid for seconds). */
  const callers = new WeakMap<object, RequestIdentity>();
  const operations = createWsOperations({ schema: opts.schema, identitySecret: opts.identitySecret, audience });
  const wsServer = serveGraphQLWs(
    {
      schema: opts.schema,
      // A connection_init without a valid identity header (for a customer or an anonymous caller)
      // is not from the gateway: graphql-ws closes it with 4403.
      onConnect: (ctx) => {
        const caller = requestIdentityFrom(ctx.connectionParams ?? {}, opts.identitySecret, audience);
        if (!caller.viaGateway) {
          opts.logger.info('websocket connection_init without a valid identity header refused');
          return false;
        }
        callers.set(ctx, caller);
        return true;
      },
      // The gateway multiplexes many callers over one connection: each subscribe names its own.
      onSubscribe: (ctx, id, payload) => operations.subscribe(ctx, id, payload),
      subscribe: (args) => operations.execute(args),
      // Called per operation; a subscription keeps its context for its whole life, so per-request
      // caches must not be used there (the transport tells the service).
      context: async (ctx, id) => {
        const caller = operations.takeCaller(ctx, id) ?? callers.get(ctx);
        if (!caller) throw new Error('operation on a connection that was not acknowledged');
        return opts.context(caller, WS_TRANSPORT);
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        const r = result as ExecutionResult;
        if (!r.errors?.length) return undefined;
        return { ...r, errors: r.errors.map((e) => formatError(e.toJSON())) } as never;
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON())) as never,
    },
    wss,
    { logger: opts.logger, production: opts.production },
  );

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const url = `http://${opts.host}:${port}/graphql`;
  opts.logger.info({ url }, `${opts.name} subgraph listening`);

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    close: () =>
      (closed ??= (async () => {
        await wsServer.dispose();
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        await apollo.stop();
      })()),
  };
}
