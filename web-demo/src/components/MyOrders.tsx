import { useQuery } from '@apollo/client/react';
import { describeError } from '../errors.js';
import { formatDateTime, formatMoney, shortId } from '../format.js';
import { MY_ORDERS } from '../operations.js';
import { routes } from '../router.js';
import { StatusBadge } from './StatusBadge.js';

export function MyOrders() {
  const { data, error, loading, fetchMore } = useQuery(MY_ORDERS, { variables: { first: 20 }, pollInterval: 0 });
  const orders = data?.myOrders.edges.map((e) => e.node) ?? [];
  const pageInfo = data?.myOrders.pageInfo;

  return (
    <section className="panel" aria-labelledby="orders-title">
      <div className="section-head">
        <h1 id="orders-title">My orders</h1>
      </div>
      {error && orders.length === 0 && (
        <p className="alert alert-error" role="alert">
          {describeError(error, 'load').message}
        </p>
      )}
      {loading && orders.length === 0 && <p className="muted">Loading your orders…</p>}
      {!loading && !error && orders.length === 0 && (
        <p className="muted">
          No orders yet. <a href={routes.shop}>Go shopping</a>.
        </p>
      )}
      {orders.length > 0 && (
        <ul className="order-list" data-testid="my-orders">
          {orders.map((o) => (
            <li key={o.id} data-testid="my-order" data-order-id={o.id}>
              <a href={routes.order(o.id)} className="order-row">
                <span className="mono">{shortId(o.id)}</span>
                <span className="order-row-items">
                  {o.lines.map((l) => `${l.quantity} × ${l.product.name}`).join(', ')}
                </span>
                <span className="muted small">{formatDateTime(o.createdAt)}</span>
                <strong>{formatMoney(o.total)}</strong>
                <StatusBadge status={o.status} />
              </a>
            </li>
          ))}
        </ul>
      )}
      {pageInfo?.hasNextPage && (
        <div className="actions center">
          <button type="button" className="btn" onClick={() => void fetchMore({ variables: { first: 20, after: pageInfo.endCursor } })}>
            Older orders
          </button>
        </div>
      )}
    </section>
  );
}
