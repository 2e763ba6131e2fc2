import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/system.js';

/** Where every benchmark writes `<name>.json`; `scripts/bench.ts` renders them into `bench/RESULTS.md`. */
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

export interface Machine {
  readonly nproc: number;
  readonly node: string;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly platform: string;
}

export interface ResultTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

export interface GoalCheck {
  /** The goal as the issue states it. */
  readonly goal: string;
  /** What this run measured, with units. */
  readonly measured: string;
  /** `null` when the figure could not be measured. */
  readonly pass: boolean | null;
}

/** The common shape of `bench/results/<name>.json`, so the summary can render any benchmark. */
export interface BenchResult {
  readonly name: string;
  readonly title: string;
  readonly date: string;
  readonly machine: Machine;
  readonly command: string;
  readonly durationSeconds: number;
  readonly notes: readonly string[];
  readonly tables: readonly ResultTable[];
  readonly goals: readonly GoalCheck[];
  /** Every figure behind the tables, for scripts. */
  readonly raw: unknown;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).trim() || cpu;
  } catch {
    // keep os.cpus()
  }
  return {
    nproc: availableParallelism(),
    node: process.version,
    cpu,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform} ${process.arch}`,
  };
}

export interface Distribution {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
}

/** Nearest-rank percentiles of `values` (sorted in place). */
export function distribution(values: Float64Array | number[]): Distribution {
  const sorted = values instanceof Float64Array ? values.sort() : Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, min: NaN };
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, mean: sum / n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]!, min: sorted[0]! };
}

/** Fixed decimals, or `n/a` for NaN. */
export const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
export const fmtInt = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');

/** A plain-text table for the console. */
export function printTable(table: ResultTable): void {
  const cells = [table.columns.map(String), ...table.rows.map((r) => r.map(String))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${table.title}`);
  console.log(line(cells[0]!));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

export function printGoals(goals: readonly GoalCheck[]): void {
  console.log('\nGoals');
  for (const g of goals) console.log(`  ${g.pass === null ? 'n/a ' : g.pass ? 'PASS' : 'FAIL'}  ${g.goal}: ${g.measured}`);
}

/** Writes `bench/results/<name>.json` atomically (a crash never leaves half a file for the summary). */
export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

/** Resident set size of a process in bytes, from `/proc/<pid>/status` (Linux only). */
export function rssBytes(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used so far, in seconds, from `/proc/<pid>/stat`. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at `) `; utime and stime are the 12th and 13th of those.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * Times a process's threads gave up the CPU to wait (voluntary context switches, summed over /proc/<pid>/task):
 * how often it went to sleep and was woken again, which on a virtualised host costs more than most work.
 */
export function voluntarySwitches(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((sum, tid) => {
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      return sum + (m ? Number(m[1]) : 0);
    }, 0);
  } catch {
    return NaN;
  }
}

/**
 * Write system calls the process has made so far (`syscw` of /proc/<pid>/io: every write, writev and send,
 * to sockets and files). On this host each write to a loopback socket can wake its reader: the figure that
 * moves with the hops an order takes, where CPU time moves with how busy the machine already is.
 */
export function writeCalls(pid: number): number {
  try {
    const m = /^syscw:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** `getconf CLK_TCK`; 100 on every Linux we run on. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds the whole machine has spent busy (all cores, everything but idle and iowait), from `/proc/stat`. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** The 1-minute load average, to say whether something else was running. */
export const loadAverage = () => loadavg()[0] ?? NaN;
