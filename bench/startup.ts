/**
 * Start-up benchmark: for each service, the time from spawning its process until its readiness endpoint
 * (`/readyz`) answers 200, the CPU it spent to get there, and its resident memory (RSS) when ready and
 * after 2 s idle, run two ways: from source through tsx (development and tests) and compiled
 * (`node dist/main.js`, production; built first with `npm run build`, which turbo skips when current).
 *
 * Each service starts alone against a running Redis and broker (the gateway with the three subgraphs
 * up), `--rounds` times per runtime, the two runtimes alternating which goes first. One start per
 * service and runtime comes first and is not counted: it creates the topics and fills tsx's cache, so
 * every counted start finds the same state. Figures are medians.
 *
 *   npm run bench -- --only startup
 *   node --conditions=@shop/source --import tsx bench/startup.ts [--rounds 5]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, httpOk, spawnManaged, type ManagedProcess } from '../scripts/lib/processes.js';
import { launchSystem, REPO_ROOT, serviceEntry, SUBGRAPHS, type Runtime, type SubgraphName } from '../scripts/lib/system.js';
import { numberArg } from './lib/args.js';
import { cpuSeconds, distribution, fmt, machine, printTable, rssBytes, writeResult, type ResultTable } from './lib/report.js';
import { onCleanup, runBenchmark, sleep } from './lib/system.js';

const ROUNDS = numberArg('rounds', 5);
const RUNTIMES: readonly Runtime[] = ['tsx', 'compiled'];
const READY_TIMEOUT_MS = 60_000;
const IDLE_MS = 2_000;
const MIB = 2 ** 20;

type ServiceName = SubgraphName | 'gateway';

interface Start {
  readonly readyMs: number;
  readonly cpuMs: number;
  readonly rssReadyMiB: number;
  readonly rssIdleMiB: number;
}

const entryOf = (service: ServiceName) => (service === 'gateway' ? 'gateway/src/main.ts' : `subgraphs/${service}/src/main.ts`);

function build(): void {
  console.log('npm run build (turbo: cached unless something changed)…');
  const r = spawnSync(join(REPO_ROOT, 'node_modules/.bin/turbo'), ['run', 'build', '--filter=!@shop/web-demo', '--output-logs=errors-only'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (r.status !== 0) throw new Error('npm run build failed');
}

await runBenchmark('startup', async () => {
  const started = Date.now();
  build();
  const dataDir = mkdtempSync(join(tmpdir(), 'shop-bench-startup-'));
  onCleanup(async () => rmSync(dataDir, { recursive: true, force: true }));
  // Redis and the broker only: each service is started below, alone.
  const infra = await launchSystem({ dataDir, replicas: { orders: 0, inventory: 0, notifications: 0 }, gateways: 0, env: { LOG_LEVEL: 'warn' } });
  onCleanup(() => infra.stop());
  const baseEnv = { LOG_LEVEL: 'warn', HOST: '127.0.0.1', REDIS_URL: infra.redisUrl, KAFKA_BROKERS: infra.kafkaBrokers };
  const subgraphUrls: Partial<Record<SubgraphName, string>> = {};
  let seq = 0;

  /** Spawns the service, waits for /readyz, returns the process and its figures. */
  async function start(service: ServiceName, runtime: Runtime): Promise<{ proc: ManagedProcess; start: Start; url: string }> {
    const port = await freePort();
    const env: Record<string, string> = { ...baseEnv, PORT: String(port) };
    if (service === 'gateway') {
      for (const s of SUBGRAPHS) env[`${s.toUpperCase()}_URL`] = subgraphUrls[s]!;
    }
    const t0 = performance.now();
    const proc = spawnManaged({
      name: `${service}-${runtime}`,
      command: process.execPath,
      args: serviceEntry(entryOf(service), runtime),
      env,
      cwd: REPO_ROOT,
      logFile: join(dataDir, 'logs', `${service}-${runtime}-${++seq}.log`),
    });
    const pid = proc.pid()!;
    let exited = false;
    void proc.exited().then(() => (exited = true));
    const ready = `http://127.0.0.1:${port}/readyz`;
    // Polled every 10 ms: the poll's own granularity stays small against start-up times of a second or more.
    while (!(await httpOk(ready).catch(() => false))) {
      if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`${service} (${runtime}) not ready after ${READY_TIMEOUT_MS} ms; log: ${proc.logFile}`);
      if (exited) throw new Error(`${service} (${runtime}) exited while starting; log: ${proc.logFile}`);
      await sleep(10);
    }
    const readyMs = performance.now() - t0;
    const cpuMs = cpuSeconds(pid) * 1000;
    const rssReadyMiB = rssBytes(pid) / MIB;
    await sleep(IDLE_MS);
    const rssIdleMiB = rssBytes(pid) / MIB;
    return { proc, start: { readyMs, cpuMs, rssReadyMiB, rssIdleMiB }, url: `http://127.0.0.1:${port}/graphql` };
  }

  async function measure(service: ServiceName): Promise<Record<Runtime, Start[]>> {
    const starts: Record<Runtime, Start[]> = { tsx: [], compiled: [] };
    for (const runtime of RUNTIMES) {
      const warm = await start(service, runtime);
      await warm.proc.stop();
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? RUNTIMES : [...RUNTIMES].reverse();
      for (const runtime of order) {
        const { proc, start: s } = await start(service, runtime);
        await proc.stop();
        starts[runtime].push(s);
        console.log(`${service.padEnd(13)} ${runtime.padEnd(8)} ready in ${fmt(s.readyMs, 0)} ms, ${fmt(s.cpuMs, 0)} ms CPU, RSS ${fmt(s.rssReadyMiB, 0)} MiB (${fmt(s.rssIdleMiB, 0)} MiB idle)`);
      }
    }
    return starts;
  }

  const results: Partial<Record<ServiceName, Record<Runtime, Start[]>>> = {};
  for (const service of SUBGRAPHS) results[service] = await measure(service);
  // The gateway's readiness includes its subgraphs: start them (compiled) and leave them up.
  const upstream: ManagedProcess[] = [];
  onCleanup(async () => {
    await Promise.all(upstream.map((p) => p.stop()));
  });
  for (const s of SUBGRAPHS) {
    const { proc, url } = await start(s, 'compiled');
    upstream.push(proc);
    subgraphUrls[s] = url;
  }
  results.gateway = await measure('gateway');

  const median = (xs: readonly number[]) => distribution([...xs]).p50;
  const rows: (string | number)[][] = [];
  const raw: Record<string, unknown> = {};
  for (const [service, byRuntime] of Object.entries(results) as [ServiceName, Record<Runtime, Start[]>][]) {
    const m = (runtime: Runtime, key: keyof Start) => median(byRuntime[runtime].map((s) => s[key]));
    for (const runtime of RUNTIMES) {
      rows.push([
        service,
        runtime,
        fmt(m(runtime, 'readyMs'), 0),
        fmt(m(runtime, 'cpuMs'), 0),
        fmt(m(runtime, 'rssReadyMiB'), 0),
        fmt(m(runtime, 'rssIdleMiB'), 0),
      ]);
    }
    rows.push([
      service,
      'tsx ÷ compiled',
      `${fmt(m('tsx', 'readyMs') / m('compiled', 'readyMs'))}×`,
      `${fmt(m('tsx', 'cpuMs') / m('compiled', 'cpuMs'))}×`,
      `${fmt(m('tsx', 'rssReadyMiB') / m('compiled', 'rssReadyMiB'))}×`,
      `${fmt(m('tsx', 'rssIdleMiB') / m('compiled', 'rssIdleMiB'))}×`,
    ]);
    raw[service] = byRuntime;
  }
  const table: ResultTable = {
    title: `Start-up per service, median of ${ROUNDS} starts per runtime`,
    columns: ['service', 'runtime', 'ready (ms)', 'CPU to ready (ms)', 'RSS ready (MiB)', `RSS after ${IDLE_MS / 1000} s (MiB)`],
    rows,
  };
  printTable(table);
  const file = writeResult({
    name: 'startup',
    title: 'Service start-up and memory, compiled (node dist/…) vs tsx',
    date: new Date().toISOString(),
    machine: machine(),
    command: `node --conditions=@shop/source --import tsx bench/startup.ts --rounds ${ROUNDS}`,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    notes: [
      'ready: from spawning the process to the first 200 from its /readyz (polled every 10 ms); CPU: user + system of the process until then.',
      'Each service starts alone against a running Redis and broker; the gateway with the three subgraphs up (compiled).',
      'tsx figures are with a warm tsx cache (the uncounted first start fills it), as in a developer\'s second run.',
      'The machine has 2 cores shared with other work: compare the two runtimes of a row, not absolute figures across runs.',
    ],
    tables: [table],
    goals: [],
    raw,
  });
  console.log(`\nwrote ${file}`);
});
