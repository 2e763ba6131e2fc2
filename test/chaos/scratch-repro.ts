import { ChaosHarness, sleep } from './harness.js';
import { chaosProfile } from './profile.js';
const h = await ChaosHarness.start({ profile: chaosProfile('short'), replicas: 2, gateways: 1 });
try {
  const stock = await h.readStock();
  const alice = await h.customer('alice');
  const p = [...stock!.values()][0]!;
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push((await h.placeOrder(alice, [{ productId: p.id, quantity: 1 }], 'tok_timeout')).orderId!);
  let stop = false;
  const churn = (async () => { let n = 0; while (!stop) { const s = h.watch(alice, ids[n++ % ids.length]!, 0); setTimeout(() => s.stop(), 300); await sleep(40); } })();
  await sleep(2000);
  console.log('killing orders-1 while subscriptions churn through gateway-1');
  h.system.processes.get('orders-1')!.signal('SIGKILL');
  for (let t = 0; t < 25; t++) { await sleep(1000); const c = h.crashed(['orders-1']); if (c.length) { console.log(`after ${t + 1}s:`, c); break; } }
  stop = true; await churn;
  console.log('final crashed:', h.crashed(['orders-1']).length);
} finally { await h.stop(); }
