import { useMutation } from '@apollo/client/react';
import { useRef, useState } from 'react';
import { useCart } from '../cart.js';
import { describeError, type PlainError } from '../errors.js';
import { formatMoney, newIdempotencyKey } from '../format.js';
import { PLACE_ORDER } from '../operations.js';
import { navigate, routes } from '../router.js';
import { useSession } from '../session.js';

const PAYMENT_CHOICES = [
  { token: 'tok_visa', label: 'Card that approves', hint: 'tok_visa' },
  { token: 'tok_declined', label: 'Card that is declined', hint: 'tok_declined' },
  { token: 'tok_timeout', label: 'Provider never answers', hint: 'tok_timeout' },
] as const;

export function CartPanel() {
  const cart = useCart();
  const { session } = useSession();
  const [paymentToken, setPaymentToken] = useState<string>('tok_visa');
  const [placeOrder] = useMutation(PLACE_ORDER);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<PlainError | null>(null);
  // One idempotency key per checkout attempt. A second click while the first is in flight is ignored,
  // and if the answer was lost (network error) a retry of the same cart reuses the key: never two orders.
  const inFlight = useRef(false);
  const attempt = useRef<{ signature: string; key: string } | null>(null);

  const signature = JSON.stringify([cart.lines.map((l) => [l.productId, l.quantity]), paymentToken]);

  async function checkout() {
    if (inFlight.current || cart.lines.length === 0 || !session) return;
    inFlight.current = true;
    setSubmitting(true);
    setError(null);
    if (!attempt.current || attempt.current.signature !== signature) {
      attempt.current = { signature, key: newIdempotencyKey() };
    }
    try {
      const { data } = await placeOrder({
        variables: {
          input: {
            lines: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
            paymentToken,
            idempotencyKey: attempt.current.key,
          },
        },
      });
      const order = data?.placeOrder.order;
      if (!order) throw new Error('The server did not return the order.');
      attempt.current = null;
      cart.clear();
      navigate(routes.order(order.id));
    } catch (err) {
      const plain = describeError(err, 'checkout');
      if (plain.kind !== 'network') attempt.current = null; // the server answered: a retry is a new attempt
      setError(plain);
    } finally {
      inFlight.current = false;
      setSubmitting(false);
    }
  }

  return (
    <aside className="panel cart" aria-labelledby="cart-title" data-testid="cart">
      <h2 id="cart-title">
        Your cart{' '}
        <span className="muted" data-testid="cart-count">
          ({cart.count} {cart.count === 1 ? 'item' : 'items'})
        </span>
      </h2>
      {cart.lines.length === 0 ? (
        <p className="muted empty">Your cart is empty. Add a few products to try the checkout.</p>
      ) : (
        <ul className="cart-lines">
          {cart.lines.map((l) => (
            <li key={l.productId} data-testid="cart-line" data-product-id={l.productId}>
              <div className="cart-line-main">
                <span className="cart-line-name">{l.name}</span>
                <span className="muted small">{formatMoney(l.price)} each</span>
              </div>
              <div className="qty">
                <button
                  type="button"
                  className="btn btn-icon"
                  onClick={() => cart.setQuantity(l.productId, l.quantity - 1)}
                  aria-label={`One fewer ${l.name}`}
                >
                  −
                </button>
                <input
                  type="number"
                  min={1}
                  max={1000}
                  value={l.quantity}
                  aria-label={`Quantity of ${l.name}`}
                  onChange={(e) => {
                    const n = Number.parseInt(e.target.value, 10);
                    if (Number.isFinite(n)) cart.setQuantity(l.productId, n);
                  }}
                />
                <button
                  type="button"
                  className="btn btn-icon"
                  onClick={() => cart.setQuantity(l.productId, l.quantity + 1)}
                  aria-label={`One more ${l.name}`}
                >
                  +
                </button>
                <button type="button" className="btn btn-link" onClick={() => cart.remove(l.productId)} aria-label={`Remove ${l.name}`}>
                  Remove
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}

      {cart.total && (
        <p className="cart-total">
          <span>Total</span>
          <strong data-testid="cart-total">{formatMoney(cart.total)}</strong>
        </p>
      )}

      <fieldset className="payment" disabled={submitting}>
        <legend>Payment (simulated)</legend>
        {PAYMENT_CHOICES.map((c) => (
          <label key={c.token} className={`choice ${paymentToken === c.token ? 'selected' : ''}`}>
            <input
              type="radio"
              name="payment"
              value={c.token}
              checked={paymentToken === c.token}
              onChange={() => setPaymentToken(c.token)}
              data-testid={`payment-${c.token}`}
            />
            <span>
              {c.label} <code className="muted small">{c.hint}</code>
            </span>
          </label>
        ))}
      </fieldset>

      {error && (
        <p className={`alert ${error.kind === 'network' ? 'alert-warn' : 'alert-error'}`} role="alert" data-testid="checkout-error">
          {error.message}
          {error.kind === 'network' && ' Your cart is kept; press the button again and you will not be charged twice.'}
        </p>
      )}

      {session ? (
        <button
          type="button"
          className="btn btn-primary btn-block"
          onClick={() => void checkout()}
          disabled={submitting || cart.lines.length === 0}
          aria-busy={submitting}
          data-testid="checkout"
        >
          {submitting ? 'Placing order…' : cart.total ? `Place order · ${formatMoney(cart.total)}` : 'Place order'}
        </button>
      ) : (
        <p className="muted small">Sign in above to place an order.</p>
      )}
    </aside>
  );
}
