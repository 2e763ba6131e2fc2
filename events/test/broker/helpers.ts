import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { startBroker, type Broker, type BrokerOptions } from '../../src/broker/index.js';
import { Writer } from '../../src/broker/protocol/writer.js';

export const repoRoot = resolve(import.meta.dirname, '../../..');
export const quietLogger = pino({ level: process.env.BROKER_TEST_LOG ?? 'silent' });

export function startTestBroker(opts: BrokerOptions = {}): Promise<Broker> {
  return startBroker({ host: '127.0.0.1', port: 0, logger: quietLogger, ...opts });
}

export function kafkaFor(address: string, clientId = 'test'): Kafka {
  return new Kafka({ brokers: [address], clientId, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
}

import { TSX_NODE_ARGS } from '../../../scripts/lib/processes.js';
export { freePort } from '../../../scripts/lib/processes.js';

export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** A bare Kafka-protocol client for sending hand-built requests (duplicates, bad versions, garbage). */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiting = new Map<number, (b: Buffer) => void>();
  private corr = 1;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const frame = this.buf.subarray(4, 4 + this.buf.readInt32BE(0));
        this.buf = this.buf.subarray(4 + frame.length);
        const id = frame.readInt32BE(0);
        this.waiting.get(id)?.(frame);
        this.waiting.delete(id);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((res, rej) => {
      const s = new Socket();
      s.once('error', rej);
      s.connect(port, '127.0.0.1', () => res(new RawClient(s)));
    });
  }

  /** Sends a request with header v1; resolves with the response frame (correlation id first). */
  request(apiKey: number, version: number, body: (w: Writer) => void): Promise<Buffer> {
    const id = this.corr++;
    const w = new Writer();
    w.int32(0).int16(apiKey).int16(version).int32(id).string('raw-client');
    body(w);
    w.patchInt32(0, w.offset - 4);
    const p = new Promise<Buffer>((res) => this.waiting.set(id, res));
    this.socket.write(w.toBuffer());
    return p;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface Child {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the first stdout line matching. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

export function spawnTs(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [...TSX_NODE_ARGS, script, ...args], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.on('data', () => {});
  return {
    proc,
    lines,
    waitForLine: (re, timeoutMs = 20_000) =>
      waitFor(`line ${re} from ${script}`, () => {
        for (const l of lines) {
          const m = l.match(re);
          if (m) return m;
        }
        if (proc.exitCode !== null) throw new Error(`${script} exited with ${proc.exitCode}`);
        return null;
      }, timeoutMs),
  };
}

export function killChild(child: Child | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.proc.once('exit', () => res());
    process.kill(child.proc.pid!, signal);
  });
}
