import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLFormattedError } from 'graphql';

export class BodyTooLargeError extends Error {
  readonly retriable = false;
  constructor(readonly limitBytes: number) {
    super(`The request body exceeds ${limitBytes} bytes.`);
    this.name = 'BodyTooLargeError';
  }
}

/** Reads the whole body, refusing it as soon as it grows past `limitBytes`. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw new BodyTooLargeError(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new BodyTooLargeError(limitBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads and drops the rest of a refused body, so the client, still sending it, gets to read the
 * answer: closing at once would cut its upload off with a reset (EPIPE on its side) before it reads
 * the 413. Past `limitBytes` the connection is closed anyway.
 */
export function discardBody(req: IncomingMessage, limitBytes: number): void {
  if (req.destroyed || req.readableEnded) return;
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limitBytes) req.socket.destroy();
  });
  req.resume();
}

/** A GraphQL-shaped error response for refusals made before the engine sees the request. */
export function sendGraphQLError(res: ServerResponse, status: number, error: GraphQLFormattedError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify({ errors: [error] }));
}
