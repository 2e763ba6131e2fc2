// `npm test`: every tier, in order of speed, stopping at nothing: each step runs and the exit code
// says whether all passed. Tiers can run alone: `npm run test:unit`, `test:int`, `test:e2e`, `test:chaos`,
// `test:cluster`. Lint, type-check and unit tests run per workspace through turbo, which caches them: a second run with
// nothing changed replays the results instead of running again (turbo.json says what each task reads).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TSX_NODE_ARGS } from './lib/processes.js';
import { REPO_ROOT } from './lib/system.js';

interface Step {
  name: string;
  args: string[];
  vitest?: boolean;
  /** Vitest JSON reports this step leaves behind (turbo restores them from its cache too). */
  reports?: () => string[];
}

const bin = (name: string) => join(REPO_ROOT, 'node_modules/.bin', name);
// --continue: a failing workspace does not stop the others; --output-logs=new-only: cached tasks print one line.
const turbo = (...tasks: string[]) => [bin('turbo'), 'run', ...tasks, '--continue', '--output-logs=new-only'];
const only = process.argv.slice(2);
const steps: Step[] = [
  { name: 'lint', args: turbo('lint', 'lint:root') },
  { name: 'typecheck', args: turbo('typecheck', 'typecheck:root') },
  { name: 'supergraph', args: [process.execPath, ...TSX_NODE_ARGS, 'gateway/src/supergraph/compose-cli.ts', '--check'] },
  { name: 'unit', args: turbo('test:unit'), reports: () => workspaceDirs().map((dir) => join(dir, 'test-results', 'unit.json')) },
  { name: 'int', args: ['int'], vitest: true },
  { name: 'e2e', args: ['e2e'], vitest: true },
  { name: 'browser', args: ['browser'], vitest: true },
  { name: 'chaos', args: ['chaos'], vitest: true },
  { name: 'cluster', args: ['cluster'], vitest: true },
].filter((s) => only.length === 0 || only.includes(s.name));

/** The npm workspaces' directories, from the root package.json (`dir` or `dir/*`). */
function workspaceDirs(): string[] {
  const { workspaces } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  return workspaces.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [join(REPO_ROOT, pattern)];
    const parent = join(REPO_ROOT, pattern.slice(0, -2));
    return readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(parent, e.name));
  }).filter((dir) => existsSync(join(dir, 'package.json')));
}

const reportDir = join(REPO_ROOT, 'test-results');
rmSync(reportDir, { recursive: true, force: true });
mkdirSync(reportDir, { recursive: true });

const results: { name: string; ok: boolean; seconds: number }[] = [];
let passed = 0;
let failed = 0;
for (const step of steps) {
  const started = Date.now();
  console.log(`\n=== ${step.name} ===`);
  let args = step.args;
  const report = join(reportDir, `${step.name}.json`);
  const reports = step.vitest ? [report] : (step.reports?.() ?? []);
  if (step.vitest) {
    args = [bin('vitest'), 'run', '--project', step.args[0]!, '--passWithNoTests', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  }
  // turbo: no telemetry (offline machines and CI must not wait on it).
  const profiles = step.name === 'chaos' ? { CHAOS_PROFILE: process.env.CHAOS_PROFILE ?? 'short' } : step.name === 'cluster' ? { CLUSTER_PROFILE: process.env.CLUSTER_PROFILE ?? 'short' } : {};
  const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', ...profiles };
  for (const file of step.reports?.() ?? []) rmSync(file, { force: true });
  const r = spawnSync(args[0]!, args.slice(1), { stdio: 'inherit', cwd: REPO_ROOT, env });
  const ok = r.status === 0;
  for (const file of reports) {
    try {
      const json = JSON.parse(readFileSync(file, 'utf8')) as { numPassedTests: number; numFailedTests: number };
      passed += json.numPassedTests;
      failed += json.numFailedTests;
    } catch {
      // No report: the step failed before running tests (or the workspace has none); its exit code says so.
    }
  }
  results.push({ name: step.name, ok, seconds: (Date.now() - started) / 1000 });
}

console.log('\n=== summary ===');
for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(12)} ${r.seconds.toFixed(1)}s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
