import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startRedis, freePort } from './test/fixtures/redis.js';
import { startTestGraph } from './test/fixtures/subgraphs.js';
import { signDevToken } from './src/auth.js';
import { DEV_SECRETS } from '@shop/service-kit';
const N = Number(process.argv[2] ?? 2000);
const redis = await startRedis();
const graph = await startTestGraph();
const port = await freePort();
const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', '--import', 'tsx', 'src/main.ts'], { env: { ...process.env, PORT: String(port), REDIS_URL: redis.url, ORDERS_URL: graph.orders.url, INVENTORY_URL: graph.inventory.url, NOTIFICATIONS_URL: graph.notifications.url, WS_MAX_CONNECTIONS_PER_CLIENT: '100000', RATE_LIMIT: '0', LOG_LEVEL: 'warn', SUPERGRAPH_WATCH: 'false' }, stdio: 'inherit' });
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
for (;;) { try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch {} await new Promise((r) => setTimeout(r, 200)); }
const token = await signDevToken(DEV_SECRETS.jwt, 'alice');
// warm up
await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ product(id: \\"p1\\") { name } }"}' });
await new Promise((r) => setTimeout(r, 1000));
const before = rss();
const url = `ws://127.0.0.1:${port}/graphql`;
const received: number[] = [];
let errors = 0; let sent = 0;
const clients = [];
const q = 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status sequence order { id lines { quantity product { name } } } } }';
for (let i = 0; i < N; i++) {
  const c = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { Authorization: `Bearer ${token}` } });
  c.subscribe({ query: q, variables: { id: 'o1' } }, { next: (r) => { if ((r.data as any)?.orderStatusChanged?.status === 'CANCELLED') received.push(performance.now() - sent); }, error: (e) => { if (errors++ < 3) console.log('ERR', (e as any)?.code ?? (e as any)?.message ?? (e as any)?.[Object.getOwnPropertySymbols(e as object).find((s) => String(s).includes('kError'))!]?.message ?? JSON.stringify(e)); }, complete: () => {} });
  clients.push(c);
  if (i % 200 === 199) await new Promise((r) => setTimeout(r, 100));
}
for (;;) { const m = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).match(/gateway_active_subscriptions\{transport="ws"\} (\d+)/)?.[1]; if (Number(m) >= N - errors) break; await new Promise((r) => setTimeout(r, 200)); }
await new Promise((r) => setTimeout(r, 1000));
const after = rss();
sent = performance.now();
graph.changeStatus('o1', 'CANCELLED');
const t0 = Date.now();
while (received.length < N - errors && Date.now() - t0 < 30000) await new Promise((r) => setTimeout(r, 5));
received.sort((a, b) => a - b);
console.log(JSON.stringify({ N, errors, got: received.length, upstreamSubscribes: graph.orders.subscribeCalls, p50: received[Math.floor(received.length / 2)]?.toFixed(1), p99: received[Math.floor(received.length * 0.99)]?.toFixed(1), rssPerSubscriberKB: ((after - before) / (N - errors) / 1024).toFixed(2) }));
await Promise.all(clients.map((c) => c.dispose()));
child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r));
await graph.close(); await redis.close();
