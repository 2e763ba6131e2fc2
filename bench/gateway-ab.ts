/**
 * Gateway CPU per request, this tree against an earlier commit, side by side on the same
 * subgraphs in interleaved rounds (the same query as bench/gateway.ts). On a shared machine
 * absolute figures drift with other work; interleaved A/B rounds compare the two under the same
 * drift, so their ratio holds where absolute figures do not.
 *
 *   node --import tsx bench/gateway-ab.ts --before <commit> [--rounds 3] [--duration 8] [--concurrency 32]
 *
 * The earlier gateway's sources are taken with `git archive` into a temporary directory and run
 * with this tree's node_modules (so its other workspaces, service-kit included, are this tree's:
 * compare commits whose gateway still runs on them).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnManaged, freePort } from '../scripts/lib/processes.js';
import { REPO_ROOT } from '../scripts/lib/system.js';
import { waitForStatus } from '../test/support/shop.js';
import { numberArg, stringArg } from './lib/args.js';
import { createPool, postJson, runLoad } from './lib/load.js';
import { cpuSeconds, fmt, fmtInt } from './lib/report.js';
import { BENCH_ENV, onCleanup, placeBenchOrder, runBenchmark, startBenchSystem } from './lib/system.js';

const BEFORE = stringArg('before', undefined);
const ROUNDS = Math.round(numberArg('rounds', 3));
const DURATION_S = numberArg('duration', 8);
const CONCURRENCY = Math.round(numberArg('concurrency', 32));
const ORDER_QUERY = /* GraphQL */ `query($id: ID!) { order(id: $id) { id status total { amount } lines { quantity unitPrice { amount } product { id name price { amount } } } } }`;

async function main() {
  if (!BEFORE) throw new Error('--before <commit> is required');
  const dir = mkdtempSync(join(tmpdir(), 'gateway-before-'));
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  execFileSync('sh', ['-c', `git archive ${JSON.stringify(BEFORE)} gateway | tar -x -C ${JSON.stringify(dir)}`], { cwd: REPO_ROOT });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));

  const system = await startBenchSystem();
  const token = await system.token('bench-customer');
  const { orderId } = await placeBenchOrder(system.gatewayUrl, token, 'tok_visa', 3);
  await waitForStatus(system.gatewayUrl, token, orderId, ['CONFIRMED', 'REJECTED', 'CANCELLED'], 60_000);

  const port = await freePort();
  const before = spawnManaged({
    name: 'gateway-before',
    command: process.execPath,
    args: ['--import', 'tsx', join(dir, 'gateway/src/main.ts')],
    cwd: REPO_ROOT,
    env: {
      ...BENCH_ENV,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: system.redisUrl,
      ORDERS_URL: system.subgraphUrls.orders[0]!,
      INVENTORY_URL: system.subgraphUrls.inventory[0]!,
      NOTIFICATIONS_URL: system.subgraphUrls.notifications[0]!,
      SUPERGRAPH_PATH: join(REPO_ROOT, 'gateway/supergraph.graphql'),
      LOG_LEVEL: 'info',
    },
    logFile: join(system.dataDir, 'logs', 'gateway-before.log'),
  });
  onCleanup(() => before.stop());
  await before.waitForOutput(/gateway ready/, 60_000);

  const targets = {
    [`this tree`]: { url: new URL(system.gatewayUrl), pid: system.pidOf('gateway-1')! },
    [BEFORE]: { url: new URL(`http://127.0.0.1:${port}/graphql`), pid: before.pid()! },
  };
  const names = Object.keys(targets);
  const body = JSON.stringify({ query: ORDER_QUERY, variables: { id: orderId } });
  const totals = new Map(names.map((n) => [n, { cpuSeconds: 0, requests: 0, perRound: [] as number[] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const { url, pid } = targets[name]!;
      const pool = createPool(url.origin, CONCURRENCY);
      const cpu0 = cpuSeconds(pid);
      const call = async () => {
        const r = await postJson<{ data?: { order?: unknown }; errors?: unknown[] }>(pool, url.pathname, body, { authorization: `Bearer ${token}` });
        return !!r.data?.order && !r.errors?.length;
      };
      const { result } = await runLoad({ concurrency: CONCURRENCY, warmupMs: 1_000, durationMs: DURATION_S * 1_000, maxRequests: 300_000, call });
      await pool.close();
      const used = cpuSeconds(pid) - cpu0;
      const t = totals.get(name)!;
      t.cpuSeconds += used;
      t.requests += result.completedTotal;
      t.perRound.push((used / result.completedTotal) * 1_000);
      console.log(`round ${round + 1}  ${name.padEnd(12)} ${fmtInt(result.throughput).padStart(6)} req/s  failed ${result.failed}  gateway CPU ${fmt((used / result.completedTotal) * 1_000, 3)} ms/request`);
    }
  }
  console.log(`\ngateway CPU per request (${CONCURRENCY} in flight, ${ROUNDS} interleaved rounds of ${DURATION_S} s, warm-up included):`);
  for (const [name, t] of totals) console.log(`  ${name.padEnd(12)} ${fmt((t.cpuSeconds / t.requests) * 1_000, 3)} ms over ${fmtInt(t.requests)} requests (per round ${t.perRound.map((v) => fmt(v, 2)).join(' / ')})`);
  const [a, b] = names.map((n) => totals.get(n)!);
  console.log(`  ratio this tree / ${BEFORE}: ${fmt(a!.cpuSeconds / a!.requests / (b!.cpuSeconds / b!.requests), 2)}`);
}

await runBenchmark('gateway-ab', main);
