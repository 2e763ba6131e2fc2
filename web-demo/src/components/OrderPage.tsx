import { useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { describeError, explainOutcome } from '../errors.js';
import { formatDateTime, formatMoney, formatTime, shortId } from '../format.js';
import { CANCEL_ORDER, CANCELLABLE_STATUSES, FINAL_STATUSES, ORDER, type OrderStatus } from '../operations.js';
import { routes } from '../router.js';
import { useSession } from '../session.js';
import { useOrderTimeline, type LiveState } from '../useOrderTimeline.js';
import { STATUS_LABEL, StatusBadge, statusTone } from './StatusBadge.js';

const SAGA: OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED'];

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  finished: 'Final',
  failed: 'Not live',
};

export function OrderPage({ orderId }: { orderId: string }) {
  const { session } = useSession();
  const owner = session?.user.id ?? 'anonymous';
  const { data, error, loading } = useQuery(ORDER, { variables: { id: orderId }, fetchPolicy: 'cache-and-network' });
  const { steps, live, error: liveError, merge, lastAfter } = useOrderTimeline(orderId, owner);
  const [cancelOrder, cancelState] = useMutation(CANCEL_ORDER);
  const [cancelError, setCancelError] = useState<string | null>(null);

  const order = data?.order ?? null;
  useEffect(() => {
    if (order?.history) merge(order.history);
  }, [order?.history, merge]);

  const latest = steps[steps.length - 1];
  // The timeline is the freshest truth; the query's status covers the moment before the first step arrives.
  const status: OrderStatus | undefined = latest?.status ?? order?.status;
  const canCancel = !!status && CANCELLABLE_STATUSES.includes(status);
  const final = !!status && FINAL_STATUSES.includes(status);
  const outcome = status && final ? explainOutcome(status, latest?.reason) : null;

  async function onCancel() {
    setCancelError(null);
    try {
      await cancelOrder({ variables: { id: orderId } });
    } catch (err) {
      setCancelError(describeError(err, 'cancel').message);
    }
  }

  if (!order && error) {
    const plain = describeError(error, 'order');
    return (
      <section className="panel" aria-labelledby="order-title">
        <h1 id="order-title">Order {shortId(orderId)}</h1>
        <p className="alert alert-error" role="alert" data-testid="order-error">
          {plain.message}
        </p>
        <a href={routes.orders}>Back to my orders</a>
      </section>
    );
  }
  if (!order && !loading && data && data.order === null) {
    return (
      <section className="panel" aria-labelledby="order-title">
        <h1 id="order-title">Order not found</h1>
        <p className="alert alert-error" role="alert" data-testid="order-error">
          We could not find order {orderId}. It may belong to another customer.
        </p>
        <a href={routes.orders}>Back to my orders</a>
      </section>
    );
  }

  const reached = new Set(steps.map((s) => s.status));

  return (
    <div className="order-page" data-testid="order-page" data-order-id={orderId}>
      <section className="panel order-summary" aria-labelledby="order-title">
        <div className="order-head">
          <div>
            <p className="eyebrow">
              <a href={routes.orders}>My orders</a> / Order
            </p>
            <h1 id="order-title" title={orderId}>
              Order <span className="mono">{shortId(orderId)}</span>
            </h1>
            {order && <p className="muted">Placed {formatDateTime(order.createdAt)}</p>}
          </div>
          <div className="order-head-status">
            {status ? <StatusBadge status={status} testId="order-status" /> : <span className="badge">Loading…</span>}
          </div>
        </div>

        <ol className="progress" aria-label="Order progress">
          {SAGA.map((s) => {
            const done = reached.has(s);
            const failedHere = final && status !== 'CONFIRMED' && !done && s !== 'PENDING';
            return (
              <li key={s} className={done ? 'done' : failedHere ? 'skipped' : ''} aria-current={status === s ? 'step' : undefined}>
                <span className="dot" aria-hidden="true" />
                {STATUS_LABEL[s]}
              </li>
            );
          })}
        </ol>

        {outcome && (
          <p
            className={`alert alert-${statusTone(status!) === 'ok' ? 'success' : 'error'}`}
            role="status"
            data-testid="order-outcome"
          >
            {outcome}
          </p>
        )}

        {order ? (
          <table className="lines" aria-label="Order lines">
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col" className="num">
                  Qty
                </th>
                <th scope="col" className="num">
                  Unit price
                </th>
                <th scope="col" className="num">
                  Subtotal
                </th>
              </tr>
            </thead>
            <tbody>
              {order.lines.map((l) => (
                <tr key={l.product.id} data-testid="order-line">
                  <td>{l.product.name}</td>
                  <td className="num">{l.quantity}</td>
                  <td className="num">{formatMoney(l.unitPrice)}</td>
                  <td className="num">{formatMoney({ amount: l.unitPrice.amount * l.quantity, currency: l.unitPrice.currency })}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={3}>
                  Total
                </th>
                <td className="num strong" data-testid="order-total">
                  {formatMoney(order.total)}
                </td>
              </tr>
            </tfoot>
          </table>
        ) : (
          <p className="muted">Loading order…</p>
        )}

        {canCancel && (
          <div className="actions">
            <button
              type="button"
              className="btn btn-danger"
              onClick={onCancel}
              disabled={cancelState.loading}
              data-testid="cancel-order"
            >
              {cancelState.loading ? 'Cancelling…' : 'Cancel order'}
            </button>
            <span className="muted small">You can cancel until the order is confirmed.</span>
          </div>
        )}
        {cancelError && (
          <p className="alert alert-error" role="alert" data-testid="cancel-error">
            {cancelError}
          </p>
        )}
      </section>

      <section className="panel timeline-panel" aria-labelledby="timeline-title">
        <div className="timeline-head">
          <h2 id="timeline-title">Status timeline</h2>
          <span className={`live live-${live}`} data-testid="timeline-live" data-state={live} data-after={lastAfter ?? ''} title={lastAfter !== null ? `subscribed with after: ${lastAfter}` : undefined}>
            <span className="live-dot" aria-hidden="true" />
            {LIVE_TEXT[live]}
          </span>
        </div>
        {liveError && (
          <p className="alert alert-error" role="alert">
            {liveError.message}
          </p>
        )}
        <ol className="timeline" data-testid="timeline" aria-live="polite" aria-label="Status changes">
          {steps.map((s) => (
            <li
              key={s.sequence}
              className={`step step-${statusTone(s.status)}`}
              data-testid="timeline-step"
              data-sequence={s.sequence}
              data-status={s.status}
            >
              <span className="step-marker" aria-hidden="true">
                {s.sequence}
              </span>
              <div className="step-body">
                <div className="step-title">
                  <strong>{STATUS_LABEL[s.status] ?? s.status}</strong>{' '}
                  <code className="status-code" data-testid="timeline-status">
                    {s.status}
                  </code>
                </div>
                <time dateTime={s.at} className="muted small">
                  {formatTime(s.at)}
                </time>
                {s.reason && <p className="step-reason">{s.reason}</p>}
              </div>
            </li>
          ))}
          {steps.length === 0 && <li className="muted">Waiting for the first update…</li>}
        </ol>
      </section>
    </div>
  );
}
