import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { MoneyLike } from './format.js';

export interface CartLine {
  productId: string;
  name: string;
  price: MoneyLike;
  quantity: number;
}

export interface CartValue {
  lines: CartLine[];
  count: number;
  total: MoneyLike | null;
  quantityOf(productId: string): number;
  add(product: { id: string; name: string; price: MoneyLike }, quantity?: number): void;
  setQuantity(productId: string, quantity: number): void;
  remove(productId: string): void;
  clear(): void;
}

const CartContext = createContext<CartValue | null>(null);

export function useCart(): CartValue {
  const v = useContext(CartContext);
  if (!v) throw new Error('useCart outside CartProvider');
  return v;
}

const MAX_QUANTITY = 1000;

function storageKey(owner: string): string {
  return `shop-demo.cart.${owner}`;
}

function load(owner: string): CartLine[] {
  try {
    const raw = localStorage.getItem(storageKey(owner));
    const parsed = raw ? (JSON.parse(raw) as CartLine[]) : [];
    return Array.isArray(parsed) ? parsed.filter((l) => l && typeof l.productId === 'string' && l.quantity > 0) : [];
  } catch {
    return [];
  }
}

/** The cart of one user, kept in localStorage so a reload keeps it. */
export function CartProvider({ owner, children }: { owner: string; children: ReactNode }) {
  const [lines, setLines] = useState<CartLine[]>(() => load(owner));

  useEffect(() => {
    try {
      localStorage.setItem(storageKey(owner), JSON.stringify(lines));
    } catch {
      // ignore
    }
  }, [owner, lines]);

  const add = useCallback<CartValue['add']>((product, quantity = 1) => {
    setLines((prev) => {
      const existing = prev.find((l) => l.productId === product.id);
      if (existing) {
        return prev.map((l) =>
          l.productId === product.id ? { ...l, quantity: Math.min(MAX_QUANTITY, l.quantity + quantity) } : l,
        );
      }
      return [...prev, { productId: product.id, name: product.name, price: product.price, quantity }];
    });
  }, []);

  const setQuantity = useCallback((productId: string, quantity: number) => {
    setLines((prev) =>
      quantity <= 0
        ? prev.filter((l) => l.productId !== productId)
        : prev.map((l) => (l.productId === productId ? { ...l, quantity: Math.min(MAX_QUANTITY, quantity) } : l)),
    );
  }, []);

  const remove = useCallback((productId: string) => setLines((prev) => prev.filter((l) => l.productId !== productId)), []);
  const clear = useCallback(() => setLines([]), []);

  const value = useMemo<CartValue>(() => {
    const count = lines.reduce((n, l) => n + l.quantity, 0);
    const currency = lines[0]?.price.currency;
    const total = currency ? { amount: lines.reduce((n, l) => n + l.price.amount * l.quantity, 0), currency } : null;
    return {
      lines,
      count,
      total,
      quantityOf: (id) => lines.find((l) => l.productId === id)?.quantity ?? 0,
      add,
      setQuantity,
      remove,
      clear,
    };
  }, [lines, add, setQuantity, remove, clear]);

  return <CartContext.Provider value={value}>{children}</CartContext.Provider>;
}
