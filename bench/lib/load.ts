import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { distribution, type Distribution } from './report.js';

/**
 * A small closed-loop load generator (autocannon is not a dependency): `concurrency` workers each
 * send one request, wait for the whole response, and send the next, until the time or the request
 * cap runs out. Latency is measured per request from send to the last body byte; requests started
 * during the warm-up are sent but not counted.
 */
export interface LoadOptions {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Hard cap on requests sent in total (warm-up included), so a run is bounded even if the target is very fast. */
  readonly maxRequests: number;
  /**
   * One request; resolves true when the response was correct, false (or throws) otherwise. `worker`
   * (0 … concurrency − 1) is the in-flight slot sending it, e.g. to give each slot its own customer.
   */
  readonly call: (worker: number) => Promise<boolean>;
}

export interface LoadResult {
  readonly concurrency: number;
  /** Seconds from the end of the warm-up to the last counted response. */
  readonly measuredSeconds: number;
  /** Correct responses per second in the measured window. */
  readonly throughput: number;
  readonly ok: number;
  readonly failed: number;
  /** The first failure's message, for the log. */
  readonly firstError: string | undefined;
  /** Milliseconds, correct responses only. */
  readonly latency: Distribution;
  readonly cappedByCount: boolean;
  /** Responses (correct or not) over the whole run, warm-up included, to divide CPU time by. */
  readonly completedTotal: number;
}

/** The latencies (ms, correct responses) behind a result, to pool several runs. */
export interface LoadRun {
  readonly result: LoadResult;
  readonly samples: Float64Array;
}

export async function runLoad(opts: LoadOptions): Promise<LoadRun> {
  const start = performance.now();
  const measureFrom = start + opts.warmupMs;
  const stopAt = measureFrom + opts.durationMs;
  const latencies = new Float64Array(opts.maxRequests);
  let recorded = 0;
  let sent = 0;
  let failed = 0;
  let firstError: string | undefined;
  let lastDone = measureFrom;
  let completedTotal = 0;

  const worker = async (slot: number) => {
    while (sent < opts.maxRequests) {
      const t0 = performance.now();
      if (t0 >= stopAt) return;
      sent++;
      let ok = false;
      try {
        ok = await opts.call(slot);
        if (!ok) firstError ??= 'incorrect response';
      } catch (err) {
        firstError ??= err instanceof Error ? err.message : String(err);
      }
      const t1 = performance.now();
      completedTotal++;
      if (t0 < measureFrom) continue;
      if (ok) latencies[recorded++] = t1 - t0;
      else failed++;
      if (t1 > lastDone) lastDone = t1;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, slot) => worker(slot)));

  const measuredSeconds = Math.max(lastDone - measureFrom, 1) / 1000;
  const samples = latencies.slice(0, recorded);
  const result: LoadResult = {
    concurrency: opts.concurrency,
    measuredSeconds,
    throughput: recorded / measuredSeconds,
    ok: recorded,
    failed,
    firstError,
    latency: distribution(latencies.subarray(0, recorded)),
    cappedByCount: sent >= opts.maxRequests,
    completedTotal,
  };
  return { result, samples };
}

/** A keep-alive connection pool to one origin, with timeouts so a stuck target cannot hang a run. */
export function createPool(origin: string, connections: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    connectTimeout: 5_000,
    keepAliveTimeout: 30_000,
  });
}

/** POSTs a JSON body to `path` and returns the parsed response when the status is 200. */
export async function postJson<T>(pool: Pool, path: string, body: string, headers: Record<string, string>): Promise<T> {
  const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/**
 * An open-loop schedule: the n-th send is due at `start + n / rate` whatever happened to the ones
 * before, as real customers do not wait for each other; a slow system then shows as latency and
 * backlog, not as a lower offered rate. Bounded three ways: at most `rate × duration` sends, no send
 * after `durationMs`, and a due send is skipped (and counted) while `maxInFlight` are unanswered.
 */
export interface OpenLoopOptions {
  readonly rate: number;
  readonly durationMs: number;
  readonly maxInFlight: number;
  /** Checked on every tick; a reason ends the schedule early (the system is beyond saving). */
  readonly giveUp?: () => string | undefined;
  /** One send; `scheduledAt` (Date.now() clock) is when it was due, to measure from. Should not throw. */
  readonly send: (n: number, scheduledAt: number) => Promise<void>;
}

export interface OpenLoopResult {
  readonly startedAt: number;
  /** When the last due send was scheduled (or the schedule gave up). */
  readonly endedAt: number;
  readonly sent: number;
  readonly skipped: number;
  readonly gaveUp: string | undefined;
}

export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.floor((opts.rate * opts.durationMs) / 1000);
  const intervalMs = 1000 / opts.rate;
  const startedAt = Date.now();
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  let skipped = 0;
  let gaveUp: string | undefined;
  // Ticks of a few ms: a timer per send would cost more than the sends at high rates.
  const tickMs = Math.max(1, Math.min(5, intervalMs / 2));
  while (next < total) {
    gaveUp = opts.giveUp?.();
    if (gaveUp) break;
    const elapsed = Date.now() - startedAt;
    const due = Math.min(total, Math.floor((Math.min(elapsed, opts.durationMs) * opts.rate) / 1000) + 1);
    for (; next < due; next++) {
      if (inFlight.size >= opts.maxInFlight) {
        skipped++;
        continue;
      }
      const p = opts.send(next, startedAt + next * intervalMs).catch(() => undefined);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    if (elapsed >= opts.durationMs) break;
    await new Promise((r) => setTimeout(r, tickMs));
  }
  const endedAt = Date.now();
  await Promise.all([...inFlight]);
  return { startedAt, endedAt, sent: next - skipped, skipped, gaveUp };
}
