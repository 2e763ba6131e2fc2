import { useCallback, useEffect, useState } from 'react';
import { CartProvider } from './cart.js';
import { AuthPrompt, ServerBanner } from './components/Banners.js';
import { Header } from './components/Header.js';
import { MyOrders } from './components/MyOrders.js';
import { OrderPage } from './components/OrderPage.js';
import { Shop } from './components/Shop.js';
import { SignInCard } from './components/SignIn.js';
import type { Notification } from './operations.js';
import { navigate, routes, useRoute } from './router.js';
import { SessionProvider, useSession } from './session.js';

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}

interface Toast {
  id: string;
  text: string;
  orderId: string;
}

function Shell() {
  const route = useRoute();
  const { session } = useSession();
  const [toasts, setToasts] = useState<Toast[]>([]);

  const onToast = useCallback((n: Notification) => {
    setToasts((t) => [...t.filter((x) => x.id !== n.id), { id: n.id, text: n.message, orderId: n.orderId }].slice(-3));
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== n.id)), 6_000);
  }, []);

  useEffect(() => {
    document.title = route.name === 'order' ? 'Order — Event Shop' : route.name === 'orders' ? 'My orders — Event Shop' : 'Event Shop';
  }, [route]);

  return (
    <CartProvider key={session?.user.id ?? "anonymous"} owner={session?.user.id ?? "anonymous"}>
      <Header route={route} onToast={onToast} />
      <ServerBanner />
      <AuthPrompt />
      <main className="container" id="main">
        {!session && <SignInCard />}
        {route.name === 'order' && session ? (
          <OrderPage key={route.id} orderId={route.id} />
        ) : route.name === 'orders' && session ? (
          <MyOrders />
        ) : (
          <Shop />
        )}
      </main>
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <button key={t.id} type="button" className="toast" onClick={() => navigate(routes.order(t.orderId))} data-testid="toast">
            {t.text}
          </button>
        ))}
      </div>
      <footer className="footer muted small">
        Demo of a GraphQL federation gateway over Kafka · queries over HTTP, live updates over WebSocket
      </footer>
    </CartProvider>
  );
}
