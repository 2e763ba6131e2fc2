import { DEMO_USERS } from '../auth.js';
import { useConnection } from '../connection.js';
import type { Notification } from '../operations.js';
import { routes, type Route } from '../router.js';
import { useSession } from '../session.js';
import { Bell } from './Bell.js';

export function Header({ route, onToast }: { route: Route; onToast: (n: Notification) => void }) {
  const { session, signInAs, signOut, signingIn } = useSession();
  const conn = useConnection();

  const wsLabel = conn.authRejected
    ? 'Signed out'
    : conn.ws === 'connected' ? 'Live' : conn.ws === 'reconnecting' ? 'Reconnecting…' : conn.ws === 'connecting' ? 'Connecting…' : 'Idle';

  return (
    <header className="topbar">
      <div className="topbar-inner">
        <a href={routes.shop} className="brand" aria-label="Event Shop, home">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          Event Shop
        </a>
        <nav aria-label="Main" className="nav">
          <a href={routes.shop} aria-current={route.name === 'shop' ? 'page' : undefined}>
            Shop
          </a>
          {session && (
            <a href={routes.orders} aria-current={route.name === 'orders' ? 'page' : undefined} data-testid="nav-orders">
              My orders
            </a>
          )}
        </nav>
        <div className="topbar-right">
          {session && (
            <span className={`conn conn-${conn.ws}`} data-testid="connection-status" data-state={conn.ws} role="status" title="Live updates">
              <span className="live-dot" aria-hidden="true" />
              {wsLabel}
            </span>
          )}
          {session && <Bell onToast={onToast} />}
          <label className="user-switch">
            <span className="sr-only">Signed in as</span>
            <select
              value={signingIn ?? session?.user.id ?? ''}
              disabled={!!signingIn}
              onChange={(e) => {
                const v = e.target.value;
                if (v === '__signout') signOut();
                else if (v) void signInAs(v);
              }}
              data-testid="user-switcher"
              aria-label="Signed in as"
            >
              {!session && <option value="">Sign in…</option>}
              {DEMO_USERS.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.label}
                  {u.roles.includes('admin') ? ' (admin)' : ''}
                </option>
              ))}
              {session && <option value="__signout">Sign out</option>}
            </select>
          </label>
        </div>
      </div>
    </header>
  );
}
