import { useSyncExternalStore } from 'react';

/** What the person should know about the link to the gateway. */
export interface ConnectionState {
  /** The subscription socket: idle (nothing subscribed), connecting, connected or reconnecting after a loss. */
  ws: 'idle' | 'connecting' | 'connected' | 'reconnecting';
  /** The last HTTP request could not reach the gateway (network error, 502/503/504). */
  httpDown: boolean;
  /** The gateway refused our token (UNAUTHENTICATED, 401, WS close 4401/4403). */
  authRejected: boolean;
}

const initial: ConnectionState = { ws: 'idle', httpDown: false, authRejected: false };

let state: ConnectionState = initial;
const listeners = new Set<() => void>();

export const connection = {
  get(): ConnectionState {
    return state;
  },
  set(patch: Partial<ConnectionState>): void {
    const next = { ...state, ...patch };
    if (next.ws === state.ws && next.httpDown === state.httpDown && next.authRejected === state.authRejected) return;
    state = next;
    for (const l of listeners) l();
  },
  reset(): void {
    state = initial;
    for (const l of listeners) l();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useConnection(): ConnectionState {
  return useSyncExternalStore(connection.subscribe, connection.get, connection.get);
}
