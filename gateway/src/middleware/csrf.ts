import type { IncomingHttpHeaders } from 'node:http';
import { MIMEType } from 'node:util';

/** Content types a browser sends cross-origin without a preflight (the Fetch standard's "simple" ones). */
const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/** Headers no simple request carries: a browser preflights a request that sets one. */
const PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'] as const;

/** Content types seen (clients send a handful), parsed once: `null` for one that does not parse. */
const essences = new Map<string, string | null>();
const MAX_REMEMBERED = 256;

function essenceOf(contentType: string): string | null {
  let essence = essences.get(contentType);
  if (essence === undefined) {
    try {
      essence = new MIMEType(contentType).essence;
    } catch {
      essence = null;
    }
    if (essences.size >= MAX_REMEMBERED) essences.clear();
    essences.set(contentType, essence);
  }
  return essence;
}

/** The media type of a Content-Type header (`application/json; charset=utf-8` → `application/json`), or `undefined`. */
function mediaTypeOf(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  return essenceOf(contentType) ?? undefined;
}

/** Whether the body is JSON (`application/json` or `application/graphql-response+json`), by its media type only. */
export function isJsonContentType(contentType: string | undefined): boolean {
  const type = mediaTypeOf(contentType);
  return type === 'application/json' || type === 'application/graphql-response+json';
}

/**
 * CSRF prevention (Apollo Server's rule, which Apollo clients follow), for every GraphQL request: a
 * browser may only have sent it cross-origin after a preflight, which CORS then decides. That holds
 * when the content type is not a simple one (an unparseable one counts as not simple) or a
 * preflight-forcing header is set.
 */
export function isPreflighted(headers: IncomingHttpHeaders): boolean {
  const contentType = headers['content-type'];
  if (contentType !== undefined) {
    const essence = essenceOf(contentType);
    if (essence === null || !SIMPLE_CONTENT_TYPES.has(essence)) return true;
  }
  return PREFLIGHT_HEADERS.some((name) => {
    const value = headers[name];
    return typeof value === 'string' && value.length > 0;
  });
}
