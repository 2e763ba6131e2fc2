import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { OperationTypeNode } from 'graphql';
import { tap } from 'rxjs';
import { GATEWAY_URL, GATEWAY_WS_URL } from './config.js';
import { connection } from './connection.js';
import { isNetworkError, isUnauthenticated } from './errors.js';

export interface SessionClient {
  client: ApolloClient;
  ws: WsClient;
  dispose(): void;
}

const AUTH_CLOSE_CODES = new Set([4401, 4403]);

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && typeof value.code === 'number';
}

/** Exponential backoff with jitter: ~0.5 s, 1 s, 2 s, 4 s … capped at 5 s. */
function backoff(attempt: number): Promise<void> {
  const base = Math.min(5_000, 500 * 2 ** attempt);
  const delay = base / 2 + Math.random() * (base / 2);
  return new Promise((resolve) => setTimeout(resolve, delay));
}

/**
 * One Apollo Client + one graphql-ws client per signed-in user. Switching user disposes both and
 * builds new ones, so no cached data or open subscription crosses from one user to another.
 */
export function createSessionClient(token: string | null): SessionClient {
  let disposed = false;
  let everConnected = false;
  const authHeader = token ? `Bearer ${token}` : undefined;

  const ws = createClient({
    url: GATEWAY_WS_URL,
    lazy: true,
    lazyCloseTimeout: 2_000,
    keepAlive: 10_000,
    retryAttempts: Infinity,
    retryWait: backoff,
    connectionParams: () => (authHeader ? { Authorization: authHeader } : {}),
    // Retry everything (gateway restarts, lost network) except a refused token.
    shouldRetry: (errOrClose) => !(isCloseEvent(errOrClose) && AUTH_CLOSE_CODES.has(errOrClose.code)),
    on: {
      connecting: (isRetry) => {
        if (!disposed) connection.set({ ws: isRetry || everConnected ? 'reconnecting' : 'connecting' });
      },
      connected: () => {
        everConnected = true;
        if (!disposed) connection.set({ ws: 'connected', httpDown: false });
      },
      closed: (event) => {
        if (disposed) return;
        if (isCloseEvent(event) && AUTH_CLOSE_CODES.has(event.code)) {
          connection.set({ ws: 'idle', authRejected: true });
        } else if (isCloseEvent(event) && event.code === 1000) {
          connection.set({ ws: 'idle' }); // lazy close: nothing subscribed any more
        } else if (everConnected) {
          connection.set({ ws: 'reconnecting' });
        }
      },
    },
  });

  const errorLink = new ErrorLink(({ error, operation }) => {
    if (disposed) return;
    if (isUnauthenticated(error)) {
      connection.set({ authRejected: true });
      return;
    }
    const def = getMainDefinition(operation.query);
    const isSubscription = def.kind === 'OperationDefinition' && def.operation === OperationTypeNode.SUBSCRIPTION;
    if (!isSubscription && !CombinedGraphQLErrors.is(error) && isNetworkError(error)) connection.set({ httpDown: true });
  });

  // Any HTTP answer at all proves the gateway is reachable again.
  const reachableLink = new ApolloLink((operation, forward) =>
    forward(operation).pipe(
      tap(() => {
        if (!disposed) connection.set({ httpDown: false });
      }),
    ),
  );

  const httpLink = new HttpLink({
    uri: GATEWAY_URL,
    headers: authHeader ? { Authorization: authHeader } : {},
  });

  const link = ApolloLink.from([
    errorLink,
    ApolloLink.split(
      ({ query }) => {
        const def = getMainDefinition(query);
        return def.kind === 'OperationDefinition' && def.operation === OperationTypeNode.SUBSCRIPTION;
      },
      new GraphQLWsLink(ws),
      ApolloLink.from([reachableLink, httpLink]),
    ),
  ]);

  const client = new ApolloClient({
    link,
    cache: new InMemoryCache({
      typePolicies: {
        Query: {
          fields: {
            // Paginated lists are fetched page by page ("Load more"), merged by cursor.
            products: { keyArgs: false, merge: mergeConnection },
            myOrders: { keyArgs: false, merge: mergeConnection },
            myNotifications: { keyArgs: ['unreadOnly'] },
          },
        },
        Money: { merge: true },
        Stock: { merge: true },
        OrderStatusChange: { keyFields: ['orderId', 'sequence'] },
      },
    }),
    defaultOptions: {
      watchQuery: { fetchPolicy: 'cache-and-network' },
    },
  });

  return {
    client,
    ws,
    dispose() {
      if (disposed) return;
      disposed = true;
      client.stop();
      void client.clearStore();
      void ws.dispose();
    },
  };
}

interface ConnLike {
  edges: { cursor: string; node: unknown }[];
  pageInfo: unknown;
}

function mergeConnection(
  existing: ConnLike | undefined,
  incoming: ConnLike,
  { args }: { args: Record<string, unknown> | null },
): ConnLike {
  if (!existing || !args?.['after']) return incoming; // first page replaces (a refetch starts over)
  const seen = new Set(existing.edges.map((e) => e.cursor));
  return { ...incoming, edges: [...existing.edges, ...incoming.edges.filter((e) => !seen.has(e.cursor))] };
}
