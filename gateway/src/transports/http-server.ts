/**
 * The HTTP edge: one request through the middleware, in order, then to a transport.
 *   ops routes (/healthz, /readyz, /metrics) → 404 elsewhere → CORS → per-address rate limit →
 *   dev tokens → shutdown → landing page → authentication → per-client rate limit → body (size,
 *   JSON) → CSRF prevention → multipart subscription or plain GraphQL over HTTP.
 * Every refusal is counted once, where it is made.
 */
import { contextOf, inSpan, SpanKind } from '@shop/events';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { ExecutionResult } from 'graphql';
import { CORRELATION_HEADER, ErrorCode, correlationIdFrom, handleOpsRequest, httpStatusOf, type Logger } from '@shop/service-kit';
import type { GraphQLError } from '../graphql.js';
import { InvalidTokenError, type Authenticated, type Authenticator } from '../middleware/auth.js';
import type { ClientAddresses } from '../middleware/client-address.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayContext } from '../context.js';
import type { CorsPolicy } from '../middleware/cors.js';
import { isJsonContentType, isPreflighted } from '../middleware/csrf.js';
import { serveDevToken } from './dev-token-route.js';
import type { Engine } from '../engine/engine.js';
import type { ErrorFormatter } from '../error-masking.js';
import type { ClientLimits, RateLimits } from '../middleware/guards.js';
import { BodyTooLargeError, discardBody, readBody, sendGraphQLError } from './http-io.js';
import type { GatewayMetrics } from '../metrics.js';
import type { TokenExpiry } from '../middleware/token-expiry.js';
import { paramsOfGet, paramsOfPost, ResponseTypes, serveHttpOperation, type HttpRequest } from './http.js';
import { wantsLandingPage } from './landing-page.js';
import { acceptsMultipartSubscription, serveMultipartSubscription } from './multipart.js';

export interface HttpEdgeOptions {
  readonly config: GatewayConfig;
  readonly engine: Engine;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly registry: Registry;
  readonly readiness: Record<string, () => Promise<boolean>>;
  readonly cors: CorsPolicy;
  readonly addresses: ClientAddresses;
  readonly authenticator: Authenticator;
  readonly rateLimits: RateLimits;
  readonly clientLimits: ClientLimits;
  readonly tokenExpiry: TokenExpiry;
  readonly formatError: ErrorFormatter;
  /** The Sandbox page (development), or `undefined`. */
  readonly landingPage: (() => Promise<string>) | undefined;
  /** True once the gateway is shutting down. */
  readonly stopping: () => boolean;
  /** Open multipart streams, ended at shutdown. */
  readonly streams: Set<AsyncIterableIterator<ExecutionResult>>;
}

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

/** How much of a refused body is read and dropped, in multiples of MAX_BODY_BYTES, before the connection is closed. */
const DISCARD_LIMIT_FACTOR = 16;

const CSRF_MESSAGE = 'This request has been blocked as a potential Cross-Site Request Forgery: send Content-Type: application/json, or an apollo-require-preflight header.';

export function createHttpEdge(opts: HttpEdgeOptions): RequestListener {
  const { config, engine, logger, metrics, formatError } = opts;
  const responseTypes = new ResponseTypes();
  const notFound = (res: ServerResponse) => res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  const sendRateLimited = (res: ServerResponse, limited: GraphQLError) => {
    const retryAfter = String(Math.max(1, Math.ceil(Number(limited.extensions.retryAfterMs) / 1000)));
    sendGraphQLError(res, httpStatusOf(ErrorCode.RATE_LIMITED), limited.toJSON(), { 'retry-after': retryAfter });
  };

  const graphql = async (req: IncomingMessage, res: ServerResponse, scope: RequestScope, clientIp: string) => {
    // Only a GET carries anything in its URL (a POST's parameters are its body).
    const search = req.method === 'GET' ? new URL(req.url ?? '/', 'http://gateway').searchParams : undefined;
    if (opts.landingPage && search && wantsLandingPage(req.method, search, req.headers.accept)) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(await opts.landingPage());
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      sendGraphQLError(res, 405, { message: 'GraphQL is served over GET and POST.', extensions: { code: ErrorCode.BAD_REQUEST } }, { allow: 'GET, POST' });
      return;
    }
    let authenticated: Authenticated | null;
    try {
      authenticated = await opts.authenticator.authenticate(req.headers.authorization);
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      metrics.refusals.inc({ reason: 'auth' });
      sendGraphQLError(res, 401, { message: `Unauthenticated: ${err.message}.`, extensions: { code: ErrorCode.UNAUTHENTICATED } }, { 'www-authenticate': 'Bearer' });
      return;
    }
    const identity = authenticated?.identity ?? null;
    const limited = await opts.rateLimits.client(identity, clientIp, scope);
    if (limited) {
      sendRateLimited(res, limited);
      return;
    }
    let request: HttpRequest;
    if (req.method === 'POST') {
      let raw: string;
      try {
        raw = await readBody(req, config.limits.maxBodyBytes);
      } catch (err) {
        if (!(err instanceof BodyTooLargeError)) throw err;
        metrics.refusals.inc({ reason: 'body' });
        // Not `connection: close`: Node would then close the socket under the client's upload (see discardBody).
        sendGraphQLError(res, 413, { message: err.message, extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE, maxBytes: err.limitBytes } });
        discardBody(req, DISCARD_LIMIT_FACTOR * config.limits.maxBodyBytes);
        return;
      }
      // By the media type alone: `text/plain; x=application/json` is not JSON (and is a simple, unpreflighted request).
      if (!isJsonContentType(req.headers['content-type'])) {
        request = { error: 'Send the operation as JSON, with Content-Type: application/json.' };
      } else {
        try {
          request = paramsOfPost(raw === '' ? {} : JSON.parse(raw));
        } catch {
          sendGraphQLError(res, 400, { message: 'The body is not valid JSON.', extensions: { code: ErrorCode.BAD_REQUEST } });
          return;
        }
      }
    } else {
      request = paramsOfGet(search!);
    }
    // A browser may only have sent it cross-origin after a preflight, which CORS then decides.
    if (!isPreflighted(req.headers)) {
      metrics.refusals.inc({ reason: 'csrf' });
      sendGraphQLError(res, 400, { message: CSRF_MESSAGE, extensions: { code: ErrorCode.BAD_REQUEST } });
      return;
    }
    const context: GatewayContext = {
      identity,
      correlationId: scope.correlationId,
      get logger() {
        return scope.logger;
      },
    };
    if (req.method === 'POST' && 'params' in request && acceptsMultipartSubscription(req.headers.accept)) {
      const served = await serveMultipartSubscription(req, res, request.params, { context, authenticated, clientIp }, {
        engine,
        clientLimits: opts.clientLimits,
        tokenExpiry: opts.tokenExpiry,
        heartbeatMs: config.multipartHeartbeatMs,
        formatError,
        streams: opts.streams,
      });
      if (served) return;
    }
    await serveHttpOperation(request, req.headers.accept, context, res, { engine, formatError, responseTypes });
  };

  return (req, res) => {
    const correlationId = correlationIdFrom(req.headers);
    res.setHeader(CORRELATION_HEADER, correlationId);
    const scope = new RequestScope(logger, correlationId);
    if (logger.isLevelEnabled('debug')) {
      const log = scope.logger;
      const started = process.hrtime.bigint();
      res.once('finish', () => log.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'http request'));
    }
    const path = (req.url ?? '/').split('?')[0];
    void (async () => {
      if (await handleOpsRequest(req, res, { checks: opts.readiness, registry: opts.registry })) return;
      if (path !== '/graphql' && path !== '/auth/dev-token') return notFound(res);
      if (opts.cors.handle(req, res)) return;
      // Per address, before the token is even looked at: bad tokens count too.
      const clientIp = opts.addresses.of(req);
      const ipLimited = await opts.rateLimits.ip(clientIp, scope);
      if (ipLimited) return sendRateLimited(res, ipLimited);
      if (path === '/auth/dev-token') {
        if (req.method === 'GET') await serveDevToken(req, res, { enabled: config.devTokens, signing: config.auth });
        else notFound(res);
        return;
      }
      if (opts.stopping()) {
        sendGraphQLError(res, 503, { message: 'The gateway is shutting down.', extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } }, { connection: 'close' });
        return;
      }
      // The request's server span, a child of the client's `traceparent` when it sent one.
      const method = req.method ?? 'GET';
      await inSpan(`${method} /graphql`, SpanKind.SERVER, { 'http.request.method': method, 'url.path': '/graphql' }, () => graphql(req, res, scope, clientIp), contextOf(req.headers));
    })().catch((err: unknown) => {
      // A client that went away mid-request (its body cut off) is no fault of ours: no stack, no error-log volume.
      if (req.destroyed || res.destroyed) scope.logger.info({ reason: (err as Error).message }, 'client went away during the request');
      else scope.logger.error({ err }, 'request failed');
      sendGraphQLError(res, 500, formatError({ message: (err as Error).message, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }));
    });
  };
}
