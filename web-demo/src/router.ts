import { useEffect, useState } from 'react';

export type Route = { name: 'shop' } | { name: 'orders' } | { name: 'order'; id: string };

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '');
  const order = /^\/orders\/([^/?#]+)/.exec(path);
  if (order?.[1]) return { name: 'order', id: decodeURIComponent(order[1]) };
  if (/^\/orders\/?$/.test(path)) return { name: 'orders' };
  return { name: 'shop' };
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function navigate(to: string): void {
  window.location.hash = to;
}

export const routes = {
  shop: '#/',
  orders: '#/orders',
  order: (id: string) => `#/orders/${encodeURIComponent(id)}`,
};
