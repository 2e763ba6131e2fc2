import WebSocket from 'ws';
import type { ManagedProcess } from '../../scripts/lib/processes.js';

/**
 * A Chrome DevTools Protocol session to a running Node process, opened with SIGUSR1 (Node then
 * listens on 127.0.0.1:9229): to force a full GC before reading memory so that the per-subscriber
 * figure counts what is retained, not garbage not yet collected, and to profile CPU under load.
 */
export interface InspectorSession {
  collectGarbage(): Promise<void>;
  /** `process.memoryUsage()` inside the process. */
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
  /** V8's CPU profile (a `.cpuprofile` document) of the process while `during` runs. */
  profile<T>(during: () => Promise<T>): Promise<{ result: T; profile: CpuProfile }>;
  close(): void;
}

/** The parts of a V8 CPU profile that `topFunctions` reads. */
export interface CpuProfile {
  readonly nodes: readonly { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  readonly samples: readonly number[];
}

/** Functions by self time, as shares of all samples: where a process spends its CPU. */
export function topFunctions(profile: CpuProfile, count: number): { share: number; name: string; where: string }[] {
  const byNode = new Map<number, number>();
  for (const id of profile.samples) byNode.set(id, (byNode.get(id) ?? 0) + 1);
  const byFunction = new Map<string, { share: number; name: string; where: string }>();
  for (const node of profile.nodes) {
    const hits = byNode.get(node.id);
    if (!hits) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(gateway|service-kit)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = byFunction.get(key) ?? { share: 0, name: functionName || '(anonymous)', where };
    entry.share += hits / profile.samples.length;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()].sort((a, b) => b.share - a.share).slice(0, count);
}

export async function openInspector(proc: ManagedProcess, timeoutMs = 5_000): Promise<InspectorSession> {
  const pid = proc.pid();
  if (!pid) throw new Error(`${proc.name} is not running`);
  const listening = proc.waitForOutput(/Debugger listening on (ws:\/\/\S+)|Starting inspector on (\S+) failed[^\n]*/, timeoutMs);
  process.kill(pid, 'SIGUSR1');
  const m = await listening;
  if (!m[1]) throw new Error(`the inspector did not start: ${m[0]}`);
  const ws = new WebSocket(m[1]);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = msg.id ? pending.get(msg.id) : undefined;
    if (!p) return;
    pending.delete(msg.id!);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  ws.on('close', () => {
    for (const p of pending.values()) p.reject(new Error('inspector session closed'));
    pending.clear();
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method}: no answer within 30 s`));
      }, 30_000);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    async collectGarbage() {
      await call('HeapProfiler.collectGarbage');
    },
    async memoryUsage() {
      const r = (await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })) as { result: { value: string } };
      return JSON.parse(r.result.value) as NodeJS.MemoryUsage;
    },
    async profile(during) {
      await call('Profiler.enable');
      await call('Profiler.setSamplingInterval', { interval: 200 });
      await call('Profiler.start');
      const result = await during();
      const { profile } = (await call('Profiler.stop')) as { profile: CpuProfile };
      await call('Profiler.disable');
      return { result, profile };
    },
    close() {
      ws.close();
    },
  };
}
