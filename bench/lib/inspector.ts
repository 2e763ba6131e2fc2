import WebSocket from 'ws';
import type { ManagedProcess } from '../../scripts/lib/processes.js';

/**
 * A Chrome DevTools Protocol session to a running Node process, opened with SIGUSR1 (Node then
 * listens on 127.0.0.1:9229), used only to force a full GC before reading memory so that the
 * per-subscriber figure counts what is retained, not garbage not yet collected.
 */
export interface InspectorSession {
  collectGarbage(): Promise<void>;
  /** `process.memoryUsage()` inside the process. */
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
  close(): void;
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
    close() {
      ws.close();
    },
  };
}
