import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname } from 'node:path';

/**
 * Node arguments that run a TypeScript entry point from source: tsx compiles on the fly, and the
 * `@shop/source` export condition makes workspace packages resolve to their `src/*.ts` rather than
 * their compiled `dist/` (which plain `node` uses in production; see tsconfig.base.json).
 */
export const TSX_NODE_ARGS: readonly string[] = ['--conditions=@shop/source', '--import', 'tsx'];

/**
 * V8 settings every service runs with (the Dockerfile's entry point has the same). A young generation of 32 MiB
 * semi-spaces instead of V8's default: the services allocate fast and briefly (Kafka batches, GraphQL results),
 * and fewer scavenges cut about a tenth of their CPU per order in the saga benchmark (docs/operations.md).
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--max-semi-space-size=32'];

/** A child process the launcher started: its log goes to a file, it is stopped by pid. */
export interface ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  pid(): number | undefined;
  /** Resolves when the process has exited (immediately when it already has). */
  exited(): Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Sends a signal without waiting (chaos tests: SIGKILL, SIGSTOP, SIGCONT). */
  signal(sig: NodeJS.Signals): void;
  /** Starts the same command again (after a stop or a kill). */
  restart(): Promise<void>;
  /** Resolves with the first stdout/stderr match of `pattern`, or rejects after `timeoutMs` or on exit. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

export interface SpawnSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  /** Also echo output to this process's stdout (npm start with VERBOSE=1). */
  echo?: boolean;
}

const running = new Set<ChildProcess>();

// A launcher that dies must not leave orphans listening on ports.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function spawnManaged(spec: SpawnSpec): ManagedProcess {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  let child: ChildProcess;
  let log: WriteStream;
  let exit: Promise<number | null>;
  let recent = '';
  const listeners = new Set<(chunk: string) => void>();

  const start = () => {
    log = createWriteStream(spec.logFile, { flags: 'a' });
    child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches only the launcher, which stops services in order.
      detached: true,
    });
    running.add(child);
    const onData = (buf: Buffer) => {
      const text = buf.toString('utf8');
      log.write(text);
      if (spec.echo) process.stdout.write(text);
      recent = (recent + text).slice(-64 * 1024);
      for (const l of listeners) l(text);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    exit = new Promise((resolve) => {
      child.once('exit', (code) => {
        running.delete(child);
        log.end();
        resolve(code);
      });
      child.once('error', (err) => {
        running.delete(child);
        log.end(`\n[launcher] failed to start ${spec.command}: ${err.message}\n`);
        resolve(-1);
      });
    });
  };
  start();

  const alive = () => child.exitCode === null && child.signalCode === null;

  const managed: ManagedProcess = {
    name: spec.name,
    logFile: spec.logFile,
    pid: () => child.pid,
    exited: () => exit,
    async stop(graceMs = 8_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
    signal(sig) {
      if (alive()) child.kill(sig);
    },
    async restart() {
      await managed.stop();
      recent = '';
      start();
    },
    waitForOutput(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const already = recent.match(pattern);
        if (already) return resolve(already);
        let buffer = '';
        const done = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(onChunk);
          fn();
        };
        const onChunk = (text: string) => {
          buffer = (buffer + text).slice(-64 * 1024);
          const m = buffer.match(pattern);
          if (m) done(() => resolve(m));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${spec.name}: no ${pattern} within ${timeoutMs} ms (log: ${spec.logFile})`))),
          timeoutMs,
        );
        listeners.add(onChunk);
        void exit.then((code) => done(() => reject(new Error(`${spec.name} exited with ${code} (log: ${spec.logFile})`))));
      });
    },
  };
  return managed;
}

/** A port the OS reports free right now (bound on 127.0.0.1 then released). */
export async function freePort(): Promise<number> {
  // The kernel may hand the same free port out again once it is released, before the process it was meant for
  // has bound it: two services of one launch on one port would pass each other's readiness check, one of them
  // not running at all. So never the same port twice from this process.
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await unusedPortNow();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port that this process has not handed out already');
}

const handedOut = new Set<number>();

function unusedPortNow(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `check` until it resolves true, or throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 150): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.body?.cancel();
  return res.ok;
}

/** True when something accepts a TCP connection on host:port within `timeoutMs`. */
export function tcpOk(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
