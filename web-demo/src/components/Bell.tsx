import { useApolloClient, useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { useEffect, useRef, useState } from 'react';
import { relativeTime } from '../format.js';
import { MARK_NOTIFICATION_READ, NOTIFICATION_ADDED, NOTIFICATIONS, type Notification } from '../operations.js';
import { navigate, routes } from '../router.js';

const FIRST = 20;

/** The bell: unread count, a dropdown of recent notifications, live via `notificationAdded`. */
export function Bell({ onToast }: { onToast: (n: Notification) => void }) {
  const client = useApolloClient();
  const { data } = useQuery(NOTIFICATIONS, { variables: { first: FIRST }, errorPolicy: 'all' });
  const [markRead] = useMutation(MARK_NOTIFICATION_READ);
  const [open, setOpen] = useState(false);
  const rootRef = useRef<HTMLDivElement>(null);

  useSubscription(NOTIFICATION_ADDED, {
    onData: ({ data: result }) => {
      const n = result.data?.notificationAdded;
      if (!n) return;
      client.cache.updateQuery({ query: NOTIFICATIONS, variables: { first: FIRST } }, (prev) => {
        if (!prev) return prev;
        if (prev.myNotifications.edges.some((e) => e.node.id === n.id)) return prev;
        return {
          ...prev,
          myNotifications: {
            ...prev.myNotifications,
            edges: [{ __typename: 'NotificationEdge', cursor: n.id, node: n }, ...prev.myNotifications.edges],
          },
          unreadNotificationCount:
            typeof prev.unreadNotificationCount === 'number' ? prev.unreadNotificationCount + (n.read ? 0 : 1) : prev.unreadNotificationCount,
        };
      });
      onToast(n);
    },
  });

  const items = data?.myNotifications.edges.map((e) => e.node) ?? [];
  const unread = data?.unreadNotificationCount ?? items.filter((n) => !n.read).length;

  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (rootRef.current && !rootRef.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  async function read(n: Notification) {
    if (!n.read) {
      try {
        await markRead({
          variables: { id: n.id },
          optimisticResponse: { markNotificationRead: { id: n.id, read: true } },
          update(cache) {
            cache.updateQuery({ query: NOTIFICATIONS, variables: { first: FIRST } }, (prev) =>
              prev && typeof prev.unreadNotificationCount === 'number'
                ? { ...prev, unreadNotificationCount: Math.max(0, prev.unreadNotificationCount - 1) }
                : prev,
            );
          },
        });
      } catch {
        // the dropdown stays usable; the count corrects itself on the next load
      }
    }
  }

  return (
    <div className="bell" ref={rootRef}>
      <button
        type="button"
        className="btn btn-icon bell-button"
        aria-haspopup="true"
        aria-expanded={open}
        aria-label={`Notifications, ${unread} unread`}
        onClick={() => setOpen((o) => !o)}
        data-testid="bell"
      >
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
          />
        </svg>
        {unread > 0 && (
          <span className="bell-count" data-testid="unread-count">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {open && (
        <div className="dropdown" role="dialog" aria-label="Notifications" data-testid="notifications">
          <div className="dropdown-head">
            <strong>Notifications</strong>
            {unread > 0 && (
              <button type="button" className="btn btn-link small" onClick={() => items.filter((n) => !n.read).forEach((n) => void read(n))}>
                Mark all read
              </button>
            )}
          </div>
          {items.length === 0 ? (
            <p className="muted small pad">Nothing yet. Place an order and updates show up here.</p>
          ) : (
            <ul className="notif-list">
              {items.map((n) => (
                <li key={n.id}>
                  <button
                    type="button"
                    className={`notif ${n.read ? '' : 'unread'}`}
                    data-testid="notification"
                    data-read={n.read}
                    onClick={() => {
                      void read(n);
                      setOpen(false);
                      navigate(routes.order(n.orderId));
                    }}
                  >
                    {!n.read && <span className="unread-dot" aria-label="unread" />}
                    <span className="notif-text">{n.message}</span>
                    <span className="muted small">{relativeTime(n.createdAt)}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
