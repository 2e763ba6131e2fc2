// The soak: `rate` approved orders per second for `seconds` through every gateway, each watched on a
// subscription; reports throughput, saga latency (placeOrder sent → CONFIRMED seen on the subscription),
// errors, and every process's RSS over time against a bound. Used by `bench/soak.ts` and the chaos tier.
import { OrderDriver } from './driver.js';
import { sleep, type ChaosHarness } from './harness.js';
import { checkRssBound, percentile, type RssSeries } from './invariants.js';
import type { SoakFigures } from './results.js';

export interface SoakOptions {
  readonly rate: number;
  readonly seconds: number;
  /** Customers spreading the load (each with its own connections). */
  readonly customers?: number;
  /** Products the orders spread over. */
  readonly products?: number;
  /** RSS sampling period. */
  readonly rssEveryMs?: number;
  /** Longest wait for the last orders' confirmations after the load stops. */
  readonly settleMs?: number;
  /** Memory bound per process. */
  readonly rssBound?: { maxKb: number; growthFactor: number; slackKb: number };
  /** Progress lines (bench prints them). */
  readonly log?: (line: string) => void;
}

export const DEFAULT_RSS_BOUND = { maxKb: 768 * 1024, growthFactor: 1.6, slackKb: 96 * 1024 };

export async function runSoak(h: ChaosHarness, opts: SoakOptions): Promise<SoakFigures> {
  const log = opts.log ?? (() => {});
  const customers = await Promise.all(Array.from({ length: opts.customers ?? 8 }, (_, i) => h.customer(`soak${i}`)));
  const stock = await h.readStock(10_000);
  if (!stock) throw new Error('soak: cannot read the catalog');
  const products = [...stock.values()].sort((a, b) => b.stock.available - a.stock.available).slice(0, opts.products ?? 8);
  // Enough stock that no soak order is rejected for want of it.
  const need = Math.ceil((opts.rate * opts.seconds * 1.2) / products.length) + 20;
  for (const p of products) if (p.stock.available < need) await h.restock(p.id, Math.min(100_000, need - p.stock.available + 20));

  const series = new Map<string, [number, number][]>();
  const t0 = Date.now();
  const sampleRss = () => {
    for (const [name, kb] of h.rss()) {
      const s = series.get(name) ?? [];
      s.push([Date.now() - t0, kb]);
      series.set(name, s);
    }
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, opts.rssEveryMs ?? 1_000);

  const driver = new OrderDriver(h, { rate: opts.rate, customers, products, mix: false, secondSubscriberEvery: 0, maxInflight: Math.max(50, opts.rate * 10) });
  driver.start();
  const progress = setInterval(() => {
    const confirmed = driver.records.filter((r) => r.subscribers[0]?.finalAt).length;
    log(`soak: ${Math.round((Date.now() - t0) / 1000)} s, placed ${driver.placedCount}, confirmed ${confirmed}`);
  }, 10_000);
  await sleep(opts.seconds * 1000);
  await driver.stop();
  clearInterval(progress);

  // Confirmations still on their way.
  const settleBy = Date.now() + (opts.settleMs ?? 30_000);
  const subs = driver.records.flatMap((r) => r.subscribers);
  while (Date.now() < settleBy && subs.some((s) => !s.isDone)) await sleep(200);
  for (const s of subs) if (!s.isDone) s.stop('timeout');
  clearInterval(rssTimer);
  sampleRss();

  const errorKinds: Record<string, number> = {};
  const bump = (k: string) => (errorKinds[k] = (errorKinds[k] ?? 0) + 1);
  const latencies: number[] = [];
  const sagaServer: number[] = [];
  const delivery: number[] = [];
  const notConfirmed: Record<string, number> = {};
  let confirmed = 0;
  let lastConfirm = 0;
  for (const { rec, subscribers } of driver.records) {
    for (const a of rec.attempts) if (a.outcome !== 'ok') bump(`placeOrder ${a.outcome}${a.code ? ` ${a.code}` : ''}${a.httpStatus ? ` ${a.httpStatus}` : ''}`);
    if (!rec.orderId) {
      bump(rec.refusedWith ? `refused ${rec.refusedWith}` : 'placeOrder never answered');
      continue;
    }
    const sub = subscribers[0];
    const final = sub?.record.segments.flatMap((s) => s.events).at(-1)?.status;
    if (sub?.finalAt && final === 'CONFIRMED') {
      confirmed++;
      latencies.push(sub.finalAt - rec.placedAt);
      const events = sub.record.segments.flatMap((s) => s.events);
      const pending = events.find((e) => e.status === 'PENDING')?.at;
      const done = events.find((e) => e.status === 'CONFIRMED');
      if (pending !== undefined && done?.at !== undefined) {
        sagaServer.push(done.at - pending);
        delivery.push(done.receivedAt - done.at);
      }
      lastConfirm = Math.max(lastConfirm, sub.finalAt);
    } else {
      notConfirmed[final ?? 'no final status seen'] = (notConfirmed[final ?? 'no final status seen'] ?? 0) + 1;
    }
    if (sub?.gaveUp) bump(`subscription gave up: ${sub.gaveUp.slice(0, 60)}`);
    const resumes = (sub?.record.segments.length ?? 1) - 1;
    for (let i = 0; i < resumes; i++) bump('subscription resumed');
  }
  const errors = Object.entries(errorKinds)
    .filter(([k]) => k !== 'subscription resumed')
    .reduce((n, [, v]) => n + v, 0);
  const rssSeries: RssSeries[] = [...series].map(([process, samples]) => ({ process, samples }));
  const bound = opts.rssBound ?? DEFAULT_RSS_BOUND;
  const rssBound = checkRssBound(rssSeries, bound);
  const mb = (kb: number) => Math.round(kb / 1024);
  const elapsed = Math.max(1, ((lastConfirm || Date.now()) - driver.startedAt) / 1000);
  return {
    rate: opts.rate,
    seconds: opts.seconds,
    gateways: h.gatewayCount,
    placed: driver.placedCount,
    accepted: driver.records.filter((r) => r.rec.orderId).length,
    confirmed,
    notConfirmed,
    errors,
    errorKinds,
    throughputPerSecond: confirmed / elapsed,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.length ? Math.max(...latencies) : Number.NaN,
      samples: latencies.length,
    },
    ...(sagaServer.length ? { sagaServerMs: { p50: percentile(sagaServer, 50), p99: percentile(sagaServer, 99) }, deliveryMs: { p50: percentile(delivery, 50), p99: percentile(delivery, 99) } } : {}),
    rss: rssSeries.map((s) => {
      const kb = s.samples.map(([, v]) => v);
      return { process: s.process, startMb: mb(kb[0] ?? 0), peakMb: mb(Math.max(...kb)), endMb: mb(kb.at(-1) ?? 0) };
    }),
    rssBound,
    rssSeries: rssSeries.map((s) => ({ process: s.process, samples: s.samples.map(([t, kb]) => [t, kb] as [number, number]) })),
  };
}
