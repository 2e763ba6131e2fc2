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
import type { ExecutionResult } from 'graphql';

export const MULTIPART_CONTENT_TYPE = 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0';
const PART = '\r\n--graphql\r\ncontent-type: application/json\r\n\r\n';
const END = '\r\n--graphql--\r\n';

/** Whether the client accepts multipart subscription responses. */
export function acceptsMultipartSubscription(accept: string | undefined): boolean {
  return !!accept && /multipart\/mixed/i.test(accept) && /subscriptionSpec\s*=\s*"?1\.0"?/i.test(accept);
}

/**
 * Streams `results` to `res` until the iterator ends or the client goes away (which returns the
 * iterator, releasing its upstream subscription). A result without `data` is a transport-level error.
 */
export async function streamMultipart(
  req: IncomingMessage,
  res: ServerResponse,
  results: AsyncIterableIterator<ExecutionResult>,
  opts: { heartbeatMs: number; headers?: Record<string, string> },
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
  try {
    for await (const result of results) {
      if (result.data === undefined && result.errors?.length) {
        write(JSON.stringify({ payload: null, errors: result.errors }));
        break;
      }
      write(JSON.stringify({ payload: result }));
    }
  } catch (err) {
    write(JSON.stringify({ payload: null, errors: [{ message: (err as Error).message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }));
  } finally {
    clearInterval(heartbeat);
    req.off('close', leave);
    res.off('close', leave);
    if (!res.writableEnded && !res.destroyed) res.end(END);
  }
}
