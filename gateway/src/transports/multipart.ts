/**
 * Apollo's multipart HTTP subscription protocol (what Apollo Client and Router speak):
 *
 *   Content-Type: multipart/mixed;boundary="graphql";subscriptionSpec=1.0
 *
 *   \r\n--graphql\r\ncontent-type: application/json\r\n\r\n{}                                   heartbeat (every ~5 s)
 *   \r\n--graphql\r\ncontent-type: application/json\r\n\r\n{"payload":{"data":…,"errors":[…]}}  an event
 *   \r\n--graphql\r\ncontent-type: application/json\r\n\r\n{"payload":null,"errors":[…]}        a transport-level error (then the end)
 *   \r\n--graphql--\r\n                                                                         the end
 *
 * Reference: https://www.apollographql.com/docs/router/executing-operations/subscription-multipart-protocol
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { ErrorCode } from '@shop/service-kit';
import type { Authenticated } from '../middleware/auth.js';
import type { GatewayContext } from '../context.js';
import type { Engine, OperationRequest } from '../engine/engine.js';
import type { ErrorFormatter } from '../error-masking.js';
import { clientKey, tokenExpired, type ClientLimits } from '../middleware/guards.js';
import type { TokenExpiry } from '../middleware/token-expiry.js';

const MULTIPART_CONTENT_TYPE = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0';
const PART = '\r\n--graphql\r\ncontent-type: application/json\r\n\r\n';
const END = '\r\n--graphql--\r\n';

/** Whether the client accepts multipart subscription responses. */
export function acceptsMultipartSubscription(accept: string | undefined): boolean {
  return !!accept && /multipart\/mixed/i.test(accept) && /subscriptionSpec\s*=\s*"?1\.0"?/i.test(accept);
}

/**
 * Streams `results` to `res` until the iterator ends, the client goes away (which returns the
 * iterator, releasing its upstream subscription) or `end.signal` aborts (then `end.error` is the
 * last part). A result without `data` is a transport-level error. Results come formatted; a
 * failure of the iterator itself goes through `formatError` (masked in production).
 */
export async function streamMultipart(
  req: IncomingMessage,
  res: ServerResponse,
  results: AsyncIterableIterator<ExecutionResult>,
  opts: { heartbeatMs: number; formatError: ErrorFormatter; end?: { signal: AbortSignal; error: () => GraphQLError }; headers?: Record<string, string> },
): Promise<void> {
  res.writeHead(200, { 'content-type': MULTIPART_CONTENT_TYPE, 'cache-control': 'no-cache', connection: 'keep-alive', ...opts.headers });
  res.flushHeaders();
  const write = (json: string) => {
    if (!res.writableEnded && !res.destroyed) res.write(PART + json);
  };
  write('{}');
  const heartbeat = setInterval(() => write('{}'), opts.heartbeatMs);
  heartbeat.unref();
  const leave = () => void results.return?.();
  req.once('close', leave);
  res.once('close', leave);
  const ended = () => {
    write(JSON.stringify({ payload: null, errors: [opts.formatError(opts.end!.error().toJSON())] }));
    leave();
  };
  if (opts.end?.signal.aborted) ended();
  else opts.end?.signal.addEventListener('abort', ended, { once: true });
  try {
    for await (const result of results) {
      if (result.data === undefined && result.errors?.length) {
        write(JSON.stringify({ payload: null, errors: result.errors }));
        break;
      }
      write(JSON.stringify({ payload: result }));
    }
  } catch (err) {
    write(JSON.stringify({ payload: null, errors: [opts.formatError({ message: (err as Error).message, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } })] }));
  } finally {
    opts.end?.signal.removeEventListener('abort', ended);
    clearInterval(heartbeat);
    req.off('close', leave);
    res.off('close', leave);
    if (!res.writableEnded && !res.destroyed) res.end(END);
  }
}

export interface MultipartOptions {
  readonly engine: Engine;
  readonly clientLimits: ClientLimits;
  readonly tokenExpiry: TokenExpiry;
  readonly heartbeatMs: number;
  readonly formatError: ErrorFormatter;
  /** Open streams, ended at shutdown. */
  readonly streams: Set<AsyncIterableIterator<ExecutionResult>>;
}

/**
 * A subscription over multipart HTTP, on top of the engine: false (nothing answered) when the
 * request is not a subscription, for the plain HTTP transport to answer. An open stream holds a
 * connection like a WebSocket does, and one subscription: the same per-client caps. It ends with
 * UNAUTHENTICATED when the token expires, as a WebSocket is closed then.
 */
export async function serveMultipartSubscription(
  req: IncomingMessage,
  res: ServerResponse,
  params: OperationRequest,
  caller: { readonly context: GatewayContext; readonly authenticated: Authenticated | null; readonly clientIp: string },
  opts: MultipartOptions,
): Promise<boolean> {
  const prepared = opts.engine.prepare(params, 'multipart');
  if ('errors' in prepared) {
    res.writeHead(prepared.status === 200 ? 400 : prepared.status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ errors: prepared.errors.map((e) => opts.formatError(e.toJSON())) }));
    return true;
  }
  if (prepared.type !== 'subscription') return false;
  const key = clientKey(caller.context.identity, caller.clientIp);
  if (!opts.clientLimits.takeConnection(key)) {
    sendError(res, 429, opts.formatError({ message: 'Too many open subscriptions for this client.', extensions: { code: ErrorCode.RATE_LIMITED } }));
    return true;
  }
  const refused = opts.clientLimits.takeSubscription(key);
  if (refused) {
    opts.clientLimits.releaseConnection(key);
    sendError(res, 429, opts.formatError(refused.toJSON()));
    return true;
  }
  const stream = opts.engine.stream(prepared, caller.context);
  opts.streams.add(stream);
  const expired = new AbortController();
  const expiresAtMs = caller.authenticated?.expiresAtMs;
  const onExpiry = { expire: () => expired.abort() };
  if (expiresAtMs !== undefined) opts.tokenExpiry.watch(expiresAtMs, onExpiry);
  try {
    await streamMultipart(req, res, stream, { heartbeatMs: opts.heartbeatMs, formatError: opts.formatError, end: { signal: expired.signal, error: tokenExpired } });
  } finally {
    if (expiresAtMs !== undefined) opts.tokenExpiry.unwatch(expiresAtMs, onExpiry);
    opts.streams.delete(stream);
    opts.clientLimits.releaseConnection(key);
    opts.clientLimits.releaseSubscription(key);
  }
  return true;
}

function sendError(res: ServerResponse, status: number, error: ReturnType<ErrorFormatter>): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ errors: [error] }));
}
