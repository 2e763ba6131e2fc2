import { useApolloClient, useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { useEffect, useRef, useState, type RefObject } from 'react';
import { useCart } from '../cart.js';
import { describeError } from '../errors.js';
import { formatMoney } from '../format.js';
import { PRODUCTS, PRODUCT_STOCK, RESTOCK, STOCK_CHANGED, type Product } from '../operations.js';
import { useSession } from '../session.js';
import { CartPanel } from './CartPanel.js';

const PAGE_SIZE = 50;

export function Shop() {
  const { data, error, loading, fetchMore } = useQuery(PRODUCTS, { variables: { first: PAGE_SIZE } });
  const products = data?.products.edges.map((e) => e.node) ?? [];
  const pageInfo = data?.products.pageInfo;

  return (
    <div className="shop">
      <section className="catalog" aria-labelledby="catalog-title">
        <div className="section-head">
          <h1 id="catalog-title">Products</h1>
          <p className="muted">Stock updates live as other people shop.</p>
        </div>
        {error && products.length === 0 && (
          <p className="alert alert-error" role="alert" data-testid="products-error">
            {describeError(error, 'load').message}
          </p>
        )}
        {loading && products.length === 0 && !error && (
          <ul className="grid" aria-busy="true" aria-label="Loading products">
            {Array.from({ length: 6 }, (_, i) => (
              <li key={i} className="card skeleton" />
            ))}
          </ul>
        )}
        {products.length > 0 && (
          <ul className="grid" data-testid="product-grid">
            {products.map((p) => (
              <ProductCard key={p.id} product={p} />
            ))}
          </ul>
        )}
        {!loading && !error && products.length === 0 && <p className="muted">No products yet.</p>}
        {pageInfo?.hasNextPage && (
          <div className="actions center">
            <button
              type="button"
              className="btn"
              onClick={() => void fetchMore({ variables: { first: PAGE_SIZE, after: pageInfo.endCursor } })}
            >
              Show more products
            </button>
          </div>
        )}
      </section>
      <CartPanel />
    </div>
  );
}

function useVisible(ref: RefObject<Element | null>): boolean {
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') {
      setVisible(true);
      return;
    }
    const io = new IntersectionObserver((entries) => setVisible(entries.some((e) => e.isIntersecting)), {
      rootMargin: '200px',
    });
    io.observe(el);
    return () => io.disconnect();
  }, [ref]);
  return visible;
}

function stockText(available: number): string {
  if (available <= 0) return 'Out of stock';
  if (available <= 5) return `Only ${available} left`;
  return `${available} in stock`;
}

function ProductCard({ product }: { product: Product }) {
  const cart = useCart();
  const client = useApolloClient();
  const { session } = useSession();
  const ref = useRef<HTMLLIElement>(null);
  const visible = useVisible(ref);
  const inCart = cart.quantityOf(product.id);
  // Live stock for cards on screen and for everything in the cart; one socket carries them all.
  const watch = !!session && (visible || inCart > 0);
  useSubscription(STOCK_CHANGED, { variables: { productId: product.id }, skip: !watch });

  // Coming back into view after a while off screen: the stock may have changed meanwhile.
  const watchedBefore = useRef(false);
  useEffect(() => {
    if (!watch) return;
    if (watchedBefore.current) {
      void client.query({ query: PRODUCT_STOCK, variables: { id: product.id }, fetchPolicy: 'network-only' }).catch(() => undefined);
    }
    watchedBefore.current = true;
  }, [watch, client, product.id]);

  const available = product.stock.available;
  const canAdd = available > inCart;
  const isAdmin = session?.user.roles.includes('admin') ?? false;
  const [flash, setFlash] = useState(false);
  const prevAvailable = useRef(available);
  useEffect(() => {
    if (prevAvailable.current !== available) {
      prevAvailable.current = available;
      setFlash(true);
      const t = setTimeout(() => setFlash(false), 900);
      return () => clearTimeout(t);
    }
  }, [available]);

  return (
    <li className="card product" ref={ref} data-testid="product-card" data-product-id={product.id} aria-labelledby={`p-${product.id}`}>
      <div className="product-art" aria-hidden="true" style={{ ['--hue' as string]: String(hueOf(product.id)) }}>
        {product.name.slice(0, 1)}
      </div>
      <div className="product-body">
        <h2 id={`p-${product.id}`} className="product-name" data-testid="product-name">
          {product.name}
        </h2>
        {product.description && <p className="product-desc">{product.description}</p>}
        <div className="product-meta">
          <span className="price" data-testid="product-price">
            {formatMoney(product.price)}
          </span>
          <span
            className={`stock ${available <= 0 ? 'stock-out' : available <= 5 ? 'stock-low' : ''} ${flash ? 'flash' : ''}`}
            data-testid="product-stock"
            data-available={available}
            data-reserved={product.stock.reserved}
            aria-live="polite"
          >
            {stockText(available)}
          </span>
        </div>
        <div className="product-actions">
          <button
            type="button"
            className="btn btn-primary"
            disabled={!canAdd}
            onClick={() => cart.add(product)}
            data-testid="add-to-cart"
            aria-label={`Add ${product.name} to cart`}
          >
            {available <= 0 ? 'Out of stock' : inCart > 0 ? 'Add one more' : 'Add to cart'}
          </button>
          {inCart > 0 && (
            <span className="in-cart" data-testid="in-cart">
              {inCart} in cart
            </span>
          )}
          {isAdmin && <RestockButton productId={product.id} name={product.name} />}
        </div>
      </div>
    </li>
  );
}

function RestockButton({ productId, name }: { productId: string; name: string }) {
  const [restock, { loading, error }] = useMutation(RESTOCK);
  return (
    <>
      <button
        type="button"
        className="btn btn-ghost"
        disabled={loading}
        onClick={() => void restock({ variables: { productId, quantity: 10 } }).catch(() => undefined)}
        aria-label={`Restock ${name} with 10 units`}
        data-testid="restock"
        title="Restock: add 10 units (admin)"
      >
        +10
      </button>
      {error && (
        <span className="small error-text" role="alert">
          {describeError(error).message}
        </span>
      )}
    </>
  );
}

function hueOf(id: string): number {
  let h = 2166136261;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return (h >>> 0) % 360;
}
