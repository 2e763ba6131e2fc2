import type { IncomingMessage, ServerResponse } from 'node:http';

/** Origins Apollo Sandbox runs in (the landing page embeds it from there), allowed in development. */
const SANDBOX_ORIGINS = ['https://sandbox.embed.apollographql.com', 'https://studio.apollographql.com'];
const LOCAL_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

export interface CorsPolicy {
  /**
   * Sets the CORS headers for an allowed origin; answers a preflight (`OPTIONS`) itself and returns
   * true then.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * `origins`: the exact origins allowed (`CORS_ORIGINS`). In development, local origins (any port)
 * and Apollo Sandbox's are allowed too; in production only the listed ones.
 */
export function createCorsPolicy(opts: { origins: readonly string[]; production: boolean }): CorsPolicy {
  const listed = new Set(opts.origins);
  const allowed = (origin: string) => listed.has(origin) || (!opts.production && (LOCAL_ORIGIN.test(origin) || SANDBOX_ORIGINS.includes(origin)));
  return {
    handle(req, res) {
      const origin = req.headers.origin;
      if (!origin || !allowed(origin)) {
        if (req.method === 'OPTIONS') {
          res.writeHead(204, { vary: 'Origin' }).end();
          return true;
        }
        return false;
      }
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-expose-headers', 'x-correlation-id, retry-after');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers':
            req.headers['access-control-request-headers'] ?? 'content-type, authorization, apollo-require-preflight, x-apollo-operation-name, x-correlation-id, accept',
          'access-control-max-age': '600',
        }).end();
        return true;
      }
      return false;
    },
  };
}
