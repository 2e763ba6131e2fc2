import type { Logger } from 'pino';

/**
 * ioredis (5.9 to 6.1) stops a sharded subscriber connection after a cluster failover by disconnecting it and
 * removing its listeners, `error` included; a reply still in its socket (the SUNSUBSCRIBE Redis sends when a
 * channel's slot moves) then finds no command waiting and is emitted as an `error` with no listener, which
 * would bring the whole process down over a connection it no longer uses. That one error, recognised by its
 * message and its origin in ioredis's reply handler, is logged instead; any other uncaught exception ends the
 * process as Node would (or is left to the other listeners, a test runner's say).
 */
const STALE_REPLY = /^Command queue state error\b/;

let installed = false;

export function tolerateStaleSubscriberReplies(logger: Logger): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', function onUncaught(err: Error) {
    if (STALE_REPLY.test(err?.message ?? '') && /DataHandler/.test(err.stack ?? '')) {
      logger.warn({ err: err.message }, 'late reply on a sharded subscriber connection ioredis had already stopped; ignored');
      return;
    }
    if (process.listenerCount('uncaughtException') > 1) return;
    process.stderr.write(`${err?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
