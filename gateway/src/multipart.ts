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
import type { ErrorFormatter } from './error-masking.js';

export const MULTIPART_CONTENT_TYPE = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0';
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
