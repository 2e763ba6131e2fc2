import { spawn } from 'node:child_process';
import { freePort, waitUntil } from '../../scripts/lib/processes.js';
import { redisPing } from '../../scripts/lib/system.js';

export interface RedisServer {
  readonly url: string;
  /** Kills the server by its pid (SIGKILL: it holds nothing worth keeping) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * A throwaway `redis-server` for one test file: 127.0.0.1, a free port (or `port`, to start one again
 * where a killed one listened), no persistence. The one fixture every workspace's integration tests use.
 */
export async function startRedisServer(opts: { port?: number } = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
  };
  try {
    await waitUntil('redis-server to answer', () => redisPing(url), 10_000, 50);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}

export interface DurableRedisServer extends RedisServer {
  /** SIGKILL, as a crash: nothing is flushed beyond what the persistence settings already wrote. */
  crash(): Promise<void>;
  /** Starts again on the same port and data directory, so clients reconnect to what survived. */
  restart(): Promise<void>;
}

/**
 * A `redis-server` with a data directory that outlives the process: `persistence` are its redis.conf
 * arguments (e.g. AOF with `appendfsync everysec`, or RDB only, where `SAVE` marks what a crash keeps).
 */
export async function startDurableRedisServer(dir: string, persistence: readonly string[]): Promise<DurableRedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ReturnType<typeof spawn> | undefined;
  let exited: Promise<void> = Promise.resolve();
  const kill = async () => {
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
  };
  const start = async () => {
    const proc = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence], { stdio: 'ignore' });
    child = proc;
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      await waitUntil('redis-server to answer', () => redisPing(url), 10_000, 50);
    } catch (err) {
      await kill();
      throw err;
    }
  };
  await start();
  return { url, stop: kill, crash: kill, restart: start };
}
