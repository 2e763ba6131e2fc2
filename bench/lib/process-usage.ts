import { cpuSeconds, rssBytes, voluntarySwitches, writeCalls } from './report.js';

/** Processes measured by name (`gateway-1`, `redis`, ...), each by the pid the launcher started. */
export type NamedPids = ReadonlyMap<string, number>;

/** CPU seconds each process has used so far (user + system, from /proc/<pid>/stat). */
export function cpuSnapshot(pids: NamedPids): Map<string, number> {
  return new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)]));
}

/** Voluntary context switches (sleeps, so wake-ups) of each process so far. */
export function wakeSnapshot(pids: NamedPids): Map<string, number> {
  return new Map([...pids].map(([name, pid]) => [name, voluntarySwitches(pid)]));
}

/** Write system calls of each process so far. */
export function writeSnapshot(pids: NamedPids): Map<string, number> {
  return new Map([...pids].map(([name, pid]) => [name, writeCalls(pid)]));
}

/** Per-unit difference of two snapshots, e.g. wake-ups per order. */
export function deltaPer(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, per: number): Map<string, number> {
  return new Map([...after].map(([name, v]) => [name, per > 0 ? (v - (before.get(name) ?? NaN)) / per : NaN]));
}

/** CPU milliseconds each process used between two snapshots, divided by `per` (e.g. orders). */
export function cpuMsPer(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, per: number): Map<string, number> {
  return new Map([...after].map(([name, s]) => [name, per > 0 ? ((s - (before.get(name) ?? NaN)) * 1000) / per : NaN]));
}

export interface RssSampler {
  /** Highest RSS (bytes) seen per process since the sampler started. */
  peaks(): Map<string, number>;
  stop(): void;
}

/** Samples every process's RSS every `everyMs`, keeping the peak: the end value alone would miss a spike during the load. */
export function startRssSampler(pids: NamedPids, everyMs = 500): RssSampler {
  const peak = new Map<string, number>();
  const sample = () => {
    for (const [name, pid] of pids) {
      const rss = rssBytes(pid);
      if (Number.isFinite(rss) && rss > (peak.get(name) ?? 0)) peak.set(name, rss);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    peaks: () => {
      sample();
      return new Map(peak);
    },
    stop: () => clearInterval(timer),
  };
}
