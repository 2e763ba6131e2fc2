// `npm test`: every tier, in order of speed, stopping at nothing: each step runs and the exit code
// says whether all passed. Tiers can run alone: `npm run test:unit`, `test:int`, `test:e2e`, `test:chaos`,
// `test:cluster`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/system.js';

interface Step {
  name: string;
  args: string[];
  vitest?: boolean;
}

const bin = (name: string) => join(REPO_ROOT, 'node_modules/.bin', name);
const only = process.argv.slice(2);
const steps: Step[] = [
  { name: 'lint', args: [bin('eslint'), '.'] },
  { name: 'typecheck', args: [bin('tsc'), '-p', 'tsconfig.json'] },
  { name: 'supergraph', args: [process.execPath, '--import', 'tsx', 'gateway/src/supergraph/compose-cli.ts', '--check'] },
  { name: 'unit', args: ['unit'], vitest: true },
  { name: 'int', args: ['int'], vitest: true },
  { name: 'e2e', args: ['e2e'], vitest: true },
  { name: 'browser', args: ['browser'], vitest: true },
  { name: 'chaos', args: ['chaos'], vitest: true },
  { name: 'cluster', args: ['cluster'], vitest: true },
].filter((s) => only.length === 0 || only.includes(s.name));

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
  if (step.vitest) {
    args = [bin('vitest'), 'run', '--project', step.args[0]!, '--passWithNoTests', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  }
  const env =
    step.name === 'chaos'
      ? { ...process.env, CHAOS_PROFILE: process.env.CHAOS_PROFILE ?? 'short' }
      : step.name === 'cluster'
        ? { ...process.env, CLUSTER_PROFILE: process.env.CLUSTER_PROFILE ?? 'short' }
        : process.env;
  const r = spawnSync(args[0]!, args.slice(1), { stdio: 'inherit', cwd: REPO_ROOT, env });
  const ok = r.status === 0;
  if (step.vitest) {
    try {
      const json = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number };
      passed += json.numPassedTests;
      failed += json.numFailedTests;
    } catch {
      // No report: the step failed before running tests; its exit code already says so.
    }
  }
  results.push({ name: step.name, ok, seconds: (Date.now() - started) / 1000 });
}

console.log('\n=== summary ===');
for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(12)} ${r.seconds.toFixed(1)}s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
