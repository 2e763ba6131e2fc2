// Soak: N orders/s for M minutes through both gateways against the whole system (2 replicas of each
// subgraph, 2 gateways, broker, redis-server with AOF), reporting throughput, saga latency p50/p99
// (placeOrder → CONFIRMED seen on a subscription), errors, and each process's RSS over time with a bound.
//
//   node --conditions=@shop/source --import tsx bench/soak.ts --rate 20 --minutes 1
//   node --conditions=@shop/source --import tsx bench/soak.ts --rate 50 --minutes 30 --rss-limit-mb 1024   (a longer run)
//
// Options: --rate <orders/s> (20), --minutes <m> (1) or --seconds <s>, --replicas <n> (2), --gateways <n> (2),
// --customers <n> (8), --rss-limit-mb <MB> (768), --rss-growth <factor> (1.6), --out <file> (bench/results/soak.json).
// Exit code 1 when the memory bound is broken or fewer than 99% of accepted orders were confirmed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../scripts/lib/system.js';
import { ChaosHarness } from '../test/chaos/harness.js';
import { chaosProfile } from '../test/chaos/profile.js';
import { DEFAULT_RSS_BOUND, runSoak } from '../test/chaos/soak-runner.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '20' },
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    replicas: { type: 'string', default: '2' },
    gateways: { type: 'string', default: '2' },
    customers: { type: 'string', default: '8' },
    'rss-limit-mb': { type: 'string', default: String(DEFAULT_RSS_BOUND.maxKb / 1024) },
    'rss-growth': { type: 'string', default: String(DEFAULT_RSS_BOUND.growthFactor) },
    out: { type: 'string', default: join(REPO_ROOT, 'bench/results/soak.json') },
  },
});

const num = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`--${name} must be a number in ${min}..${max} (got ${v})`);
    process.exit(2);
  }
  return n;
};

const rate = num('rate', values.rate, 0.1, 2_000);
const seconds = values.seconds !== undefined ? num('seconds', values.seconds, 1, 24 * 3600) : num('minutes', values.minutes ?? '1', 0.05, 24 * 60) * 60;
const replicas = num('replicas', values.replicas, 1, 4);
const gateways = num('gateways', values.gateways, 1, 4);
const customers = num('customers', values.customers, 1, 200);
const rssBound = { ...DEFAULT_RSS_BOUND, maxKb: num('rss-limit-mb', values['rss-limit-mb'], 64, 65_536) * 1024, growthFactor: num('rss-growth', values['rss-growth'], 1, 100) };
const out = resolve(values.out!);

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
log(`starting the system: ${replicas} replica(s) of each subgraph, ${gateways} gateway(s)…`);
const started = Date.now();
// The full profile's deadlines; the fault-scenario settings do not matter here.
const h = await ChaosHarness.start({ profile: { ...chaosProfile('full'), sagaDeadlineMs: 30_000 }, replicas, gateways });
let exitCode = 0;
const stopAll = async () => {
  await h.stop().catch((err: unknown) => console.error(`stopping: ${String(err)}`));
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
try {
  log(`system up in ${((Date.now() - started) / 1000).toFixed(1)} s; soaking at ${rate} orders/s for ${seconds} s`);
  const figures = await runSoak(h, { rate, seconds, customers, rssBound, settleMs: 60_000, log });
  const result = { command: process.argv.slice(2).join(' '), finishedAt: new Date().toISOString(), replicas, ...figures };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  const l = figures.latencyMs;
  log(`placed ${figures.placed}, accepted ${figures.accepted}, confirmed ${figures.confirmed}, errors ${figures.errors}`);
  log(`throughput ${figures.throughputPerSecond.toFixed(2)} confirmed orders/s (asked ${rate}/s)`);
  log(`saga latency p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms`);
  if (figures.sagaServerMs && figures.deliveryMs) {
    log(`  of which inside the services p50 ${figures.sagaServerMs.p50} ms, p99 ${figures.sagaServerMs.p99} ms; push to the client p50 ${figures.deliveryMs.p50} ms, p99 ${figures.deliveryMs.p99} ms`);
  }
  for (const r of figures.rss) log(`RSS ${r.process.padEnd(16)} start ${r.startMb} MB, peak ${r.peakMb} MB, end ${r.endMb} MB`);
  if (Object.keys(figures.errorKinds).length) log(`errors: ${JSON.stringify(figures.errorKinds)}`);
  if (!figures.rssBound.passed) {
    log(`MEMORY BOUND BROKEN: ${figures.rssBound.violations.join('; ')}`);
    exitCode = 1;
  }
  if (figures.accepted === 0 || figures.confirmed / figures.accepted < 0.99) {
    log(`only ${figures.confirmed} of ${figures.accepted} accepted orders were confirmed`);
    exitCode = 1;
  }
  log(`wrote ${out}`);
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await stopAll();
}
process.exit(exitCode);
