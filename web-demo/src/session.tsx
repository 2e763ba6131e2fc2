import { ApolloProvider } from '@apollo/client/react';
import type { Client as WsClient } from 'graphql-ws';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { createSessionClient, type SessionClient } from './apollo.js';
import {
  DEMO_USERS,
  fetchDevToken,
  isTokenExpired,
  loadSession,
  saveSession,
  SignInError,
  tokenExpiry,
  type DemoUser,
  type Session,
} from './auth.js';
import { connection } from './connection.js';

export interface SessionContextValue {
  session: Session | null;
  /** Which user a sign-in is in progress for. */
  signingIn: string | null;
  signInError: string | null;
  signInAs(userId: string): Promise<void>;
  signOut(): void;
  /** The subscription socket of the current session (null while signed out). */
  ws: WsClient | null;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

function initialSession(): Session | null {
  const s = loadSession();
  if (s && isTokenExpired(s.token)) {
    saveSession(null);
    return null;
  }
  return s;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(initialSession);
  const [signingIn, setSigningIn] = useState<string | null>(null);
  const [signInError, setSignInError] = useState<string | null>(null);
  const [sessionClient, setSessionClient] = useState<{ sc: SessionClient; token: string | null } | null>(null);
  const token = session?.token ?? null;

  // A fresh Apollo cache and WebSocket client for every token; the old ones are torn down.
  useEffect(() => {
    connection.reset();
    const sc = createSessionClient(token);
    setSessionClient({ sc, token });
    // Back after a lost connection: whatever was pushed meanwhile (stock, notifications, statuses) was missed,
    // so reload every active query once. Order timelines replay their own gap with `after`.
    const offReconnect = sc.ws.on('connected', (_socket, _payload, wasRetry) => {
      if (wasRetry) void sc.client.refetchObservableQueries().catch(() => undefined);
    });
    return () => {
      offReconnect();
      sc.dispose();
    };
  }, [token]);

  // A token that expires while the page is open: ask the person to sign in again.
  useEffect(() => {
    if (!token) return;
    const exp = tokenExpiry(token);
    if (exp === null) return;
    const ms = exp * 1000 - Date.now();
    if (ms > 2 ** 31 - 1) return;
    const timer = setTimeout(() => connection.set({ authRejected: true }), Math.max(0, ms));
    return () => clearTimeout(timer);
  }, [token]);

  const signInAs = useCallback(async (userId: string) => {
    const user: DemoUser = DEMO_USERS.find((u) => u.id === userId) ?? { id: userId, label: userId, roles: [] };
    setSigningIn(user.id);
    setSignInError(null);
    try {
      const newToken = await fetchDevToken(user);
      const next = { user, token: newToken };
      saveSession(next);
      setSession(next);
    } catch (err) {
      setSignInError(err instanceof SignInError ? err.message : 'Sign-in failed. Please try again.');
    } finally {
      setSigningIn(null);
    }
  }, []);

  const signOut = useCallback(() => {
    saveSession(null);
    setSession(null);
    setSignInError(null);
  }, []);

  const value = useMemo<SessionContextValue>(
    () => ({ session, signingIn, signInError, signInAs, signOut, ws: session ? (sessionClient?.sc.ws ?? null) : null }),
    [session, signingIn, signInError, signInAs, signOut, sessionClient],
  );

  // Render only with the client built for the current token (never the previous user's).
  if (!sessionClient || sessionClient.token !== token) return null;
  return (
    <SessionContext.Provider value={value}>
      {/* key: remount everything below on user switch, so no component keeps the previous user's state */}
      <ApolloProvider client={sessionClient.sc.client} key={token ?? 'anonymous'}>
        {children}
      </ApolloProvider>
    </SessionContext.Provider>
  );
}
