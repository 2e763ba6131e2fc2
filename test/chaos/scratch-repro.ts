import { ChaosHarness, sleep } from './harness.js';
import { chaosProfile } from './profile.js';
const h = await ChaosHarness.start({ profile: chaosProfile('short'), replicas: 1, gateways: 1 });
try {
  const stock = await h.readStock();
  const alice = await h.customer('alice');
  const p = [...stock!.values()][0]!;
  const subs = [];
  for (let i = 0; i < 5; i++) {
    const rec = await h.placeOrder(alice, [{ productId: p.id, quantity: 1 }], 'tok_timeout');
    subs.push(h.watch(alice, rec.orderId!, 0));
  }
  await sleep(1500);
  console.log('killing orders-1, then unsubscribing while the gateway reconnects upstream');
  h.system.processes.get('orders-1')!.signal('SIGKILL');
  await sleep(1200);
  for (const s of subs) s.stop();
  for (let t = 0; t < 10; t++) { await sleep(1000); const c = h.crashed(['orders-1']); if (c.length) { console.log(`after ${t + 1}s:`, c); break; } }
  console.log('final crashed:', h.crashed(['orders-1']).length);
} finally { await h.stop(); }
