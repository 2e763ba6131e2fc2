// `npm run bench`: runs each benchmark as its own child process, in sequence (they would skew each
// other side by side on a small machine), each writing bench/results/<name>.json; then renders
// every result into bench/RESULTS.md with the machine, the date, the command and the goals.
//
//   npm run bench                          # broker (when bench/broker.ts exists), gateway, fanout, saga, saga-memory, startup
//   npm run bench -- --only gateway,fanout
//   npm run bench -- --only startup        # start time and RSS of each service, compiled vs tsx
//   npm run bench -- --only saga           # the saga alone (bench/saga.ts takes --rates, --duration, ... when run directly)
//   npm run bench -- --only saga-memory    # the saga at 400 orders/s for 60 s: every process's peak RSS against its bound
//   npm run bench -- --quick               # short smoke runs (e.g. 1,000 subscribers), not figures to quote
//   npm run bench -- --report-only         # re-render bench/RESULTS.md from bench/results/*.json
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TSX_NODE_ARGS } from './lib/processes.js';
import { REPO_ROOT } from './lib/system.js';
import { machine, RESULTS_DIR, type BenchResult, type GoalCheck, type ResultTable } from '../bench/lib/report.js';

interface Bench {
  readonly name: string;
  readonly file: string;
  /** The child is stopped (SIGTERM, then SIGKILL) after this long. */
  readonly timeoutMs: number;
  /** Skipped, not failed, when its file does not exist (written by another part of the project). */
  readonly optional?: boolean;
  /** The issue's goals, shown when the result does not carry its own checks. */
  readonly goals: readonly string[];
  /** Arguments for a full run, when the file's defaults are not the run wanted. */
  readonly args?: readonly string[];
  /** Arguments for `--quick`: a smoke run in about a minute each, not figures to quote. */
  readonly quickArgs: readonly string[];
}

const BENCHES: readonly Bench[] = [
  {
    name: 'broker',
    file: 'bench/broker.ts',
    timeoutMs: 8 * 60_000,
    optional: true,
    goals: ['at least 200,000 records/s for 100-byte records in memory (acks=-1, batches of 100)', 'p99 end to end at most 5 ms at 1,000 records/s'],
    quickArgs: ['--duration', '1', '--latency-duration', '2'],
  },
  {
    name: 'gateway',
    file: 'bench/gateway.ts',
    // Eight targets × two queries × two rounds of 12 s loaded, five of 6 s unloaded, and the starts of six more gateway processes (about 9 minutes).
    timeoutMs: 11 * 60_000,
    goals: [
      'at least 1.5× the throughput of Hive Gateway on the Rust runtime (its defaults) on the order query and on the products page, with subgraph CPU per request at most Hive\'s',
      'at least 3× the throughput of the stock gateway on the same query',
      'p50 overhead at most 2 ms over the direct subgraph calls',
    ],
    quickArgs: ['--duration', '3', '--warmup', '1', '--latency-duration', '2', '--rounds', '1'],
  },
  {
    name: 'fanout',
    file: 'bench/fanout.ts',
    timeoutMs: 9 * 60_000,
    goals: ['fan-out p99 at most 250 ms', 'at most 10 KB per subscriber'],
    quickArgs: ['--clients', '1000'],
  },
  {
    name: 'saga',
    file: 'bench/saga.ts',
    // Five rates of 10 s, each after a 5 s lead-in at the same rate, each run with up to 10 s of settling and a
    // quiet wait, plus the system's start.
    timeoutMs: 16 * 60_000,
    goals: [
      '200 orders/s sustained with p50 at most 30 ms and p99 at most 150 ms (placeOrder sent → final status on the subscription)',
      'knee at least 400 orders/s (highest rate with p99 at most 250 ms and the consumer lag back to 0 within 2 s)',
      'at most 5 ms CPU per order summed over all processes',
    ],
    quickArgs: ['--rates', '25,50', '--duration', '3', '--customers', '50', '--warmup', '1', '--lead-in', '1'],
  },
  {
    name: 'saga-memory',
    file: 'bench/saga.ts',
    // One rate for 60 s after its lead-in, its settle and the system's start.
    timeoutMs: 6 * 60_000,
    goals: ["at 400 orders/s for 60 s, every process's RSS at most 512 MiB"],
    args: ['--rates', '400', '--duration', '60', '--rss-limit-mb', '512', '--name', 'saga-memory'],
    quickArgs: ['--rates', '100', '--duration', '5', '--lead-in', '0', '--customers', '50', '--warmup', '1', '--name', 'saga-memory'],
  },
  {
    name: 'startup',
    file: 'bench/startup.ts',
    // Four services, twelve starts each (two uncounted), each up to a few seconds plus 2 s idle.
    timeoutMs: 10 * 60_000,
    goals: ['start time and RSS of each service, compiled (node dist/…) vs tsx: reported, no target'],
    quickArgs: ['--rounds', '1'],
  },
];

const argv = process.argv.slice(2);
const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice(7) ?? (argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined);
const only = onlyArg ? onlyArg.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
const unknown = only?.filter((n) => !BENCHES.some((b) => b.name === n)) ?? [];
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = BENCHES.filter((b) => !only || only.includes(b.name));
const quick = argv.includes('--quick');
/** Only re-render bench/RESULTS.md from the JSON already in bench/results. */
const reportOnly = argv.includes('--report-only');

interface Outcome {
  readonly name: string;
  readonly status: 'ok' | 'failed' | 'timed out' | 'skipped';
  readonly seconds: number;
  readonly detail?: string;
}

let current: ReturnType<typeof spawn> | undefined;
let interrupted = false;

/** Signals the benchmark's process group (it runs detached, as its group's leader), so helpers it spawned without detaching stop too. */
function signalBench(child: ReturnType<typeof spawn>, sig: NodeJS.Signals): void {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    child.kill(sig);
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupted = true;
    // The benchmark stops what it started (its own handler), then we write what we have.
    if (current) signalBench(current, 'SIGTERM');
  });
}

function runOne(bench: Bench): Promise<Outcome> {
  const file = join(REPO_ROOT, bench.file);
  if (!existsSync(file)) {
    return Promise.resolve({ name: bench.name, status: bench.optional ? 'skipped' : 'failed', seconds: 0, detail: `${bench.file} does not exist` });
  }
  const resultFile = join(RESULTS_DIR, `${bench.name}.json`);
  const started = Date.now();
  console.log(`\n=== ${bench.name} (${bench.file}) ===`);
  return new Promise((resolve) => {
    // Raise the soft open-files limit to the hard one: the fan-out holds 10,000 sockets in one process.
    const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', process.execPath, ...TSX_NODE_ARGS, file, ...(quick ? bench.quickArgs : (bench.args ?? []))], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
      env: process.env,
      detached: true,
    });
    current = child;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\n${bench.name}: still running after ${bench.timeoutMs / 1000} s, stopping it (pid ${child.pid})`);
      signalBench(child, 'SIGTERM');
      killTimer = setTimeout(() => signalBench(child, 'SIGKILL'), 30_000);
    }, bench.timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      current = undefined;
      const seconds = (Date.now() - started) / 1000;
      const fresh = existsSync(resultFile) && statSync(resultFile).mtimeMs >= started;
      if (timedOut) resolve({ name: bench.name, status: 'timed out', seconds, detail: `stopped after ${bench.timeoutMs / 1000} s` });
      else if (code === 0 && fresh) resolve({ name: bench.name, status: 'ok', seconds });
      else {
        const why = code === 0 ? `exited 0 but did not write ${join('bench/results', `${bench.name}.json`)}` : `exit ${code ?? signal}`;
        resolve({ name: bench.name, status: 'failed', seconds, detail: why });
      }
    });
  });
}

const outcomes: Outcome[] = [];
for (const bench of reportOnly ? [] : selected) {
  if (interrupted) {
    outcomes.push({ name: bench.name, status: 'skipped', seconds: 0, detail: 'interrupted' });
    continue;
  }
  outcomes.push(await runOne(bench));
}

// ---- bench/RESULTS.md ----

function readResult(name: string): { result?: BenchResult; generic?: unknown } | undefined {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file)) return undefined;
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (json && typeof json === 'object' && Array.isArray((json as BenchResult).tables)) return { result: json as BenchResult };
    return { generic: json };
  } catch (err) {
    return { generic: { error: `unreadable: ${String(err)}` } };
  }
}

const cell = (v: unknown) => String(v ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

function markdownTable(table: ResultTable): string {
  const head = `| ${table.columns.map(cell).join(' | ')} |`;
  const rule = `|${table.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`;
  return [`**${table.title}**`, '', head, rule, ...table.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function goalsTable(goals: readonly GoalCheck[]): string {
  return [
    '| goal | measured | result |',
    '|---|---|---|',
    ...goals.map((g) => `| ${cell(g.goal)} | ${cell(g.measured)} | ${g.pass === null ? 'n/a' : g.pass ? '**pass**' : '**FAIL**'} |`),
  ].join('\n');
}

/** Tables for a result in another shape (e.g. the broker's own): arrays of flat objects, then the scalars. */
function genericTables(json: unknown, title: string): ResultTable[] {
  const tables: ResultTable[] = [];
  const scalars: [string, string][] = [];
  const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  const show = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v));
  const walk = (value: unknown, path: string, depth: number) => {
    if (isScalar(value)) {
      scalars.push([path || 'value', show(value)]);
      return;
    }
    if (Array.isArray(value)) {
      if (value.length && value.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
        const columns = [...new Set(value.flatMap((r) => Object.keys(r as object).filter((k) => isScalar((r as Record<string, unknown>)[k]))))];
        if (columns.length) {
          tables.push({ title: path || title, columns, rows: value.map((r) => columns.map((c) => show((r as Record<string, unknown>)[c] ?? ''))) });
          return;
        }
      }
      if (value.every(isScalar)) scalars.push([path, value.map(show).join(', ')]);
      return;
    }
    if (value && typeof value === 'object' && depth < 4) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k, depth + 1);
    }
  };
  walk(json, '', 0);
  if (scalars.length) tables.unshift({ title, columns: ['figure', 'value'], rows: scalars });
  return tables;
}

/**
 * Goal checks for results that carry their own figures but not in our shape. The broker's
 * (bench/broker.ts) has `goals.throughput100BMemory { goal, <client>: records/s }` and `goals.p99LatencyMs { goal, <client/storage>: ms }`;
 * both are judged on the best figure, and every figure is shown.
 */
function adaptGoals(name: string, json: unknown): GoalCheck[] | undefined {
  if (name !== 'broker' || !json || typeof json !== 'object') return undefined;
  const goals = (json as { goals?: Record<string, Record<string, unknown>> }).goals;
  if (!goals) return undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const checks: GoalCheck[] = [];
  const t = goals.throughput100BMemory;
  if (t) {
    const goal = num(t.goal) ?? 200_000;
    const figures = Object.entries(t).filter(([k, v]) => k !== 'goal' && num(v) !== undefined) as [string, number][];
    const best = Math.max(...figures.map(([, v]) => v));
    checks.push({
      goal: `at least ${goal.toLocaleString('en-US')} records/s for 100-byte records in memory (best client)`,
      measured: figures.length ? figures.map(([k, v]) => `${Math.round(v).toLocaleString('en-US')} rec/s (${k})`).join(', ') : 'not measured',
      pass: figures.length ? best >= goal : null,
    });
  }
  const l = goals.p99LatencyMs;
  if (l) {
    const goal = num(l.goal) ?? 5;
    const figures = Object.entries(l).filter(([k, v]) => k !== 'goal' && num(v) !== undefined) as [string, number][];
    const best = Math.min(...figures.map(([, v]) => v));
    checks.push({
      goal: `p99 end to end at most ${goal} ms at 1,000 records/s (best client)`,
      measured: figures.length ? figures.map(([k, v]) => `${v.toFixed(2)} ms (${k})`).join(', ') : 'not measured',
      pass: figures.length ? best <= goal : null,
    });
  }
  return checks.length ? checks : undefined;
}

const m = machine();
const now = new Date().toISOString();
// Only the benchmarks this script runs: other JSON in bench/results (chaos, soak) belongs to other tools.
const sections: string[] = [];
for (const name of BENCHES.map((b) => b.name)) {
  const read = readResult(name);
  const outcome = outcomes.find((o) => o.name === name);
  const bench = BENCHES.find((b) => b.name === name);
  if (!read) {
    if (outcome) sections.push(`## ${name}\n\nNo results: ${outcome.status}${outcome.detail ? ` (${outcome.detail})` : ''}.`);
    continue;
  }
  const stale = !reportOnly && (!outcome || outcome.status !== 'ok');
  const lines: string[] = [];
  if (read.result) {
    const r = read.result;
    lines.push(`## ${name}: ${r.title}`, '');
    lines.push(`Measured ${r.date} on ${r.machine.nproc} cores (${r.machine.cpu}), Node ${r.machine.node}, in ${r.durationSeconds} s.`);
    if (stale) lines.push(`*Not re-measured in this run${outcome ? ` (${outcome.status}${outcome.detail ? `: ${outcome.detail}` : ''})` : ''}; these figures are from the date above.*`);
    lines.push('', `Reproduce: \`${r.command}\``, '');
    for (const t of r.tables) lines.push(markdownTable(t), '');
    lines.push('**Goals**', '', goalsTable(r.goals.length ? r.goals : (bench?.goals ?? []).map((g) => ({ goal: g, measured: 'see the tables', pass: null }))), '');
    if (r.notes.length) lines.push(...r.notes.map((n) => `- ${n}`), '');
  } else {
    const mtime = statSync(join(RESULTS_DIR, `${name}.json`)).mtime.toISOString();
    lines.push(`## ${name}`, '');
    lines.push(`From \`bench/results/${name}.json\`, written ${mtime}.`);
    if (stale) lines.push(`*Not re-measured in this run${outcome ? ` (${outcome.status}${outcome.detail ? `: ${outcome.detail}` : ''})` : ''}.*`);
    lines.push('', `Reproduce: \`node ${TSX_NODE_ARGS.join(' ')} ${bench?.file ?? `bench/${name}.ts`}\``, '');
    for (const t of genericTables(read.generic, 'Figures')) lines.push(markdownTable(t), '');
    const adapted = adaptGoals(name, read.generic);
    if (adapted) lines.push('**Goals**', '', goalsTable(adapted), '');
    else if (bench?.goals.length) {
      lines.push('**Goals** (judge from the figures above)', '', goalsTable(bench.goals.map((g) => ({ goal: g, measured: 'see the figures', pass: null }))), '');
    }
  }
  sections.push(lines.join('\n'));
}

const summary = [
  '| benchmark | this run | seconds |',
  '|---|---|---:|',
  ...outcomes.map((o) => `| ${o.name} | ${o.status}${o.detail ? ` (${cell(o.detail)})` : ''} | ${o.seconds.toFixed(0)} |`),
].join('\n');

const md = `# Benchmark results

${reportOnly ? `Rendered from bench/results/*.json by \`npm run bench -- --report-only\` at ${now}.` : `Generated by \`npm run bench${only ? ` -- --only ${only.join(',')}` : ''}${quick ? `${only ? '' : ' --'} --quick` : ''}\` at ${now}.`}${quick ? ' **Quick smoke run: shortened benchmarks, not figures to quote.**' : ''}

Machine: ${m.nproc} cores (\`nproc\`), ${m.cpu}, ${m.memoryGiB} GiB RAM, ${m.platform}, Node ${m.node}.
Everything runs on this one machine and binds 127.0.0.1; each benchmark's load generator shares the cores with what it measures, so absolute figures are lower than on separate machines and only the side-by-side comparisons are like for like.

Reproduce everything: \`npm run bench\` (about 13 minutes on this machine, the gateway part about 9; up to 20 when other work keeps it busy); one part: \`npm run bench -- --only gateway,fanout\`.

${reportOnly ? '' : `${summary}\n\n`}${sections.join('\n\n')}
`;
writeFileSync(join(REPO_ROOT, 'bench', 'RESULTS.md'), md);
console.log(`\n=== summary ===`);
for (const o of outcomes) console.log(`${o.status.padEnd(9)} ${o.name.padEnd(8)} ${o.seconds.toFixed(0).padStart(4)} s${o.detail ? `  ${o.detail}` : ''}`);
console.log(`wrote bench/RESULTS.md`);
process.exit(outcomes.some((o) => o.status === 'failed' || o.status === 'timed out') || interrupted ? 1 : 0);
