const DEFAULT_GATEWAY_URL = 'http://localhost:4000/graphql';

/**
 * The gateway's GraphQL endpoint. Order of precedence:
 * 1. `?gateway=<url>` in the page address (handy when a test harness starts the gateway on another port);
 * 2. `VITE_GATEWAY_URL` at build/dev time;
 * 3. http://localhost:4000/graphql.
 */
function resolveGatewayUrl(): string {
  let fromQuery: string | null;
  try {
    fromQuery = new URLSearchParams(window.location.search).get('gateway');
  } catch {
    fromQuery = null;
  }
  const raw = fromQuery || import.meta.env.VITE_GATEWAY_URL || DEFAULT_GATEWAY_URL;
  return new URL(raw, window.location.href).toString();
}

export const GATEWAY_URL = resolveGatewayUrl();

/** Same path, ws:// or wss:// (graphql-transport-ws subprotocol). */
export const GATEWAY_WS_URL = (() => {
  const url = new URL(GATEWAY_URL);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
})();

export const GATEWAY_ORIGIN = new URL(GATEWAY_URL).origin;

export function devTokenUrl(sub: string, roles: readonly string[]): string {
  const url = new URL('/auth/dev-token', GATEWAY_ORIGIN);
  url.searchParams.set('sub', sub);
  if (roles.length > 0) url.searchParams.set('roles', roles.join(','));
  return url.toString();
}
