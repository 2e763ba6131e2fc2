// bench/results/chaos.json and chaos.md: each part of the chaos tier (faults, hostile, soak) writes its
// section when it finishes; the Markdown summary is regenerated from the JSON every time. The cluster tier
// writes bench/results/cluster.json and cluster.md the same way.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/system.js';
import type { InvariantResult } from './invariants.js';

export const RESULTS_DIR = join(REPO_ROOT, 'bench/results');

export interface FaultRecord {
  readonly kind: string;
  readonly target: string;
  readonly startedAt: string;
  readonly ms: number;
  readonly detail?: string;
  readonly ok: boolean;
}

export interface SoakFigures {
  readonly rate: number;
  readonly seconds: number;
  readonly gateways: number;
  readonly placed: number;
  readonly accepted: number;
  readonly confirmed: number;
  readonly notConfirmed: Record<string, number>;
  readonly errors: number;
  readonly errorKinds: Record<string, number>;
  readonly throughputPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; samples: number };
  /** Where the time went: the saga inside the services (PENDING `at` → CONFIRMED `at`) and the push to the client (CONFIRMED `at` → seen). */
  readonly sagaServerMs?: { p50: number; p99: number };
  readonly deliveryMs?: { p50: number; p99: number };
  readonly rss: { process: string; startMb: number; peakMb: number; endMb: number }[];
  readonly rssBound: InvariantResult;
  readonly rssSeries?: { process: string; samples: [number, number][] }[];
}

export interface ChaosSection {
  readonly profile: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly seconds: number;
  readonly faults?: FaultRecord[];
  readonly orders?: { placed: number; accepted: number; refused: number; unanswered: number; lost: number; final: Record<string, number> };
  readonly subscriptions?: { subscribers: number; resumes: number; events: number; forcedDrops: number };
  readonly deadLetters?: { injected: number; found: number };
  readonly invariants?: InvariantResult[];
  readonly hostile?: { check: string; passed: boolean; detail: string }[];
  readonly soak?: SoakFigures;
  readonly processes?: { name: string; alive: boolean; healthy: boolean }[];
  readonly notes?: string[];
}

interface ChaosFile {
  updatedAt: string;
  sections: Record<string, ChaosSection>;
}

const TITLES = { chaos: 'Chaos and soak results', cluster: 'Saga on a Redis Cluster, a master killed mid-run' } as const;

/** Merges one section into `<results>.json` (chaos.json by default) and rewrites `<results>.md`. */
export function writeChaosSection(name: string, section: ChaosSection, results: keyof typeof TITLES = 'chaos'): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${results}.json`);
  let file: ChaosFile = { updatedAt: '', sections: {} };
  if (existsSync(path)) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as ChaosFile;
    } catch {
      // A broken file from an interrupted run: start over.
    }
  }
  file.sections[name] = capViolations(section);
  file.updatedAt = new Date().toISOString();
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${results}.md`), renderMarkdown(file, TITLES[results]));
}

/** Violations lists can be long; the file keeps the first 50 of each (the test output has them all). */
function capViolations(section: ChaosSection): ChaosSection {
  const cap = (r: InvariantResult): InvariantResult =>
    r.violations.length > 50 ? { ...r, violations: [...r.violations.slice(0, 50), `… and ${r.violations.length - 50} more`] } : r;
  return {
    ...section,
    ...(section.invariants ? { invariants: section.invariants.map(cap) } : {}),
    ...(section.soak ? { soak: { ...section.soak, rssBound: cap(section.soak.rssBound) } } : {}),
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export function renderMarkdown(file: ChaosFile, title: string = TITLES.chaos): string {
  const out: string[] = [`# ${title}`, '', `Updated ${file.updatedAt}. Each section is written by the run that produced it (see its profile and time).`, ''];
  for (const [name, s] of Object.entries(file.sections)) {
    out.push(`## ${name} (profile \`${s.profile}\`, ${s.startedAt} → ${s.finishedAt}, ${fmt(s.seconds)} s)`, '');
    if (s.orders) {
      const finals = Object.entries(s.orders.final).map(([k, v]) => `${k} ${v}`).join(', ');
      out.push(
        `- Orders placed: **${s.orders.placed}**, accepted ${s.orders.accepted}, refused ${s.orders.refused}, unanswered ${s.orders.unanswered}; **lost: ${s.orders.lost}**`,
        `- Final states: ${finals || 'n/a'}`,
      );
    }
    if (s.subscriptions) {
      out.push(`- Subscribers: ${s.subscriptions.subscribers}, events seen ${s.subscriptions.events}, resumes with \`after\` ${s.subscriptions.resumes} (forced drops ${s.subscriptions.forcedDrops})`);
    }
    if (s.deadLetters) out.push(`- Poison injected: ${s.deadLetters.injected}; dead letters found: ${s.deadLetters.found}`);
    if (s.faults?.length) {
      out.push('', `Faults injected: **${s.faults.length}**`, '', '| fault | target | took | ok | detail |', '|---|---|---|---|---|');
      for (const f of s.faults) out.push(`| ${f.kind} | ${f.target} | ${fmt(f.ms / 1000, 1)} s | ${f.ok ? 'yes' : '**no**'} | ${f.detail ?? ''} |`);
    }
    if (s.invariants?.length) {
      const passed = s.invariants.filter((i) => i.passed).length;
      out.push('', `Invariant checks passed: **${passed}/${s.invariants.length}**`, '', '| invariant | checked | result |', '|---|---|---|');
      for (const i of s.invariants) {
        const notes = i.notes ? ` (${Object.entries(i.notes).map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
        out.push(`| ${i.name} | ${i.checked} | ${i.passed ? 'pass' : `**FAIL** (${i.violations.length})`}${notes} |`);
      }
      for (const i of s.invariants.filter((x) => !x.passed)) {
        out.push('', `<details><summary>${i.name}: violations</summary>`, '', ...i.violations.slice(0, 20).map((v) => `- ${v}`), '', '</details>');
      }
    }
    if (s.hostile?.length) {
      const passed = s.hostile.filter((h) => h.passed).length;
      out.push('', `Hostile-input checks passed: **${passed}/${s.hostile.length}**`, '', '| input | result | answer |', '|---|---|---|');
      for (const h of s.hostile) out.push(`| ${h.check} | ${h.passed ? 'pass' : '**FAIL**'} | ${h.detail.replace(/\|/g, '\\|').slice(0, 160)} |`);
    }
    if (s.soak) {
      const k = s.soak;
      out.push(
        '',
        `Soak: ${k.rate} orders/s asked for ${k.seconds} s through ${k.gateways} gateway(s): placed ${k.placed}, confirmed ${k.confirmed}, errors ${k.errors}`,
        `- Throughput achieved: **${fmt(k.throughputPerSecond, 2)} confirmed orders/s**`,
        `- Saga latency (placeOrder → CONFIRMED seen on a subscription): p50 **${fmt(k.latencyMs.p50)} ms**, p90 ${fmt(k.latencyMs.p90)} ms, p99 **${fmt(k.latencyMs.p99)} ms**, max ${fmt(k.latencyMs.max)} ms (${k.latencyMs.samples} orders)`,
        ...(k.sagaServerMs && k.deliveryMs
          ? [`- Of which: saga inside the services (PENDING → CONFIRMED \`at\`) p50 ${fmt(k.sagaServerMs.p50)} ms, p99 ${fmt(k.sagaServerMs.p99)} ms; push to the client (CONFIRMED \`at\` → seen) p50 ${fmt(k.deliveryMs.p50)} ms, p99 ${fmt(k.deliveryMs.p99)} ms`]
          : []),
        `- Memory bound: ${k.rssBound.passed ? 'held' : `**violated**: ${k.rssBound.violations.join('; ')}`}`,
        '',
        '| process | RSS start | peak | end |',
        '|---|---|---|---|',
        ...k.rss.map((r) => `| ${r.process} | ${fmt(r.startMb)} MB | ${fmt(r.peakMb)} MB | ${fmt(r.endMb)} MB |`),
      );
      if (Object.keys(k.errorKinds).length) out.push('', `Errors by kind: ${Object.entries(k.errorKinds).map(([e, n]) => `${e} ×${n}`).join(', ')}`);
    }
    if (s.processes?.length) {
      const bad = s.processes.filter((p) => !p.alive || !p.healthy);
      out.push('', `Processes alive and healthy afterwards: ${s.processes.length - bad.length}/${s.processes.length}${bad.length ? ` (not: ${bad.map((p) => p.name).join(', ')})` : ''}`);
    }
    if (s.notes?.length) out.push('', ...s.notes.map((n) => `> ${n}`));
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
