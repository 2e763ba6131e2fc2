/**
 * What bench/fanout.ts (the coordinator) and bench/lib/fanout-worker.ts (its client processes) say
 * to each other over the IPC channel of child_process `fork` (serialization "advanced", so typed
 * arrays travel as such), and the helpers both use.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Absolute milliseconds, comparable across the processes on this machine. */
export const now = () => performance.timeOrigin + performance.now();

export interface OpenResult {
  /** Clients of this batch that got their first event (their subscription is live). */
  ok: number;
  /** Clients of this batch that failed or had not settled when the batch timed out. */
  bad: number;
  timedOut: boolean;
  opened: number;
  ready: number;
  failed: number;
  /** Distinct client errors so far (message → count), at most 20. */
  errors: [string, number][];
}

export interface Collected {
  opened: number;
  ready: number;
  failed: number;
  delivered: number;
  incomplete: number;
  /** Per client, when its first (replayed) event arrived; 0 when it never did. Absolute ms. */
  readyAt: Float64Array;
  /** Per client, when the CANCELLED event arrived; 0 when it did not. Absolute ms. */
  deliveredAt: Float64Array;
  /** This process's CPU (user + system) from `arm` to its own last receipt; NaN when not every client received. */
  cpuToLastReceiptMs: number;
  /** This process's CPU from `arm` to this `collect` (includes the `complete` messages that follow). */
  cpuToCollectMs: number;
  errors: [string, number][];
}

/** Request name → what the coordinator sends and what the worker answers. */
export interface WorkerRequests {
  init: { req: { wsUrl: string; token: string; orderId: string; subscription: string; checkProductNames: boolean; capacity: number }; res: { now: number } };
  ping: { req: Record<string, never>; res: { now: number } };
  open: { req: { count: number; timeoutMs: number }; res: OpenResult };
  arm: { req: Record<string, never>; res: { now: number; ready: number } };
  collect: { req: Record<string, never>; res: Collected };
  leave: { req: { chunk: number; pauseMs: number }; res: { left: number } };
}

export type RequestName = keyof WorkerRequests;
export type ToWorker = { [K in RequestName]: { type: K; id: number } & WorkerRequests[K]['req'] }[RequestName];

export type FromWorker =
  | { type: 'hello'; pid: number; now: number; fdLimit: { soft: number; hard: number } }
  | { type: 'reply'; id: number; body?: unknown; error?: string }
  /** Sent once after `arm`, when every subscribed client of this worker has the CANCELLED event. */
  | { type: 'delivered'; at: number; delivered: number; ready: number; cpuMs: number };

export function fdLimit(hard = false): number {
  try {
    const out = execFileSync('sh', ['-c', hard ? 'ulimit -Hn' : 'ulimit -n'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Infinity : Number(out);
  } catch {
    return NaN;
  }
}
