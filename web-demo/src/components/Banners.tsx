import { useApolloClient } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { GATEWAY_URL } from '../config.js';
import { connection, useConnection } from '../connection.js';
import { useSession } from '../session.js';

/** "Can't reach the server — retrying…" while the gateway is down; probes it and reloads data once it's back. */
export function ServerBanner() {
  const conn = useConnection();
  const client = useApolloClient();
  const [attempt, setAttempt] = useState(0);
  const down = conn.httpDown || conn.ws === 'reconnecting';

  useEffect(() => {
    if (!conn.httpDown) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    let n = 0;
    const probe = async () => {
      try {
        const res = await fetch(GATEWAY_URL, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: 'query Ping { __typename }' }),
        });
        if (res.status < 502 && !stopped) {
          connection.set({ httpDown: false });
          void client.refetchObservableQueries().catch(() => undefined);
          return;
        }
      } catch {
        // still down
      }
      if (stopped) return;
      n += 1;
      setAttempt(n);
      timer = setTimeout(() => void probe(), Math.min(8_000, 1_000 * 2 ** Math.min(n, 3)));
    };
    timer = setTimeout(() => void probe(), 1_000);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [conn.httpDown, client]);

  if (!down) return null;
  return (
    <div className="banner banner-warn" role="alert" data-testid="server-banner" data-attempt={attempt}>
      <span className="spinner" aria-hidden="true" />
      Can&apos;t reach the server — retrying…
      <span className="muted small"> Your cart is safe; live updates resume by themselves.</span>
    </div>
  );
}

/** Shown when the gateway refuses our token: signed out, or the session expired. */
export function AuthPrompt() {
  const conn = useConnection();
  const { session, signInAs, signOut, signingIn, signInError } = useSession();
  if (!session || !conn.authRejected) return null;
  return (
    <div className="banner banner-error" role="alert" data-testid="auth-banner">
      You&apos;ve been signed out (your session expired or was refused). Please sign in again.
      <button type="button" className="btn btn-small" onClick={() => void signInAs(session.user.id)} disabled={!!signingIn}>
        {signingIn ? 'Signing in…' : `Sign in again as ${session.user.label}`}
      </button>
      <button type="button" className="btn btn-link small" onClick={signOut}>
        Sign out
      </button>
      {signInError && <span className="small"> {signInError}</span>}
    </div>
  );
}
