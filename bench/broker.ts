/**
 * Embedded broker benchmark (issue 2), kafkajs 2.2.4 as the client:
 *  - produce throughput, acks=-1, batches of 100 records (one partition per send), 100 B and 1 KiB
 *    values, broker in memory and with a data dir (fsync=interval, the default), with 1 and with 4
 *    producer processes each keeping several sends in flight;
 *  - end-to-end latency p50/p99 from `send()` to `eachMessage` at ~1,000 records/s for ~5 s.
 *
 *   node --conditions=@shop/source --import tsx bench/broker.ts [--duration 4] [--latency-duration 5] [--in-flight 8]
 *        [--only throughput|latency]
 *
 * The broker runs as its own process (the CLI), so it does not share an event loop with kafkajs.
 * kafkajs's encoder (per-record varints and CRC in JS) is the bottleneck of a single producer, which
 * is why the multi-producer rows exist. The "raw" rows replace kafkajs with a minimal client that
 * pipelines pre-encoded Produce v7 requests (same 100-record batches, acks=-1, CRC still verified by
 * the broker), which measures what the broker itself sustains; likewise the "raw" latency rows send
 * each record as its own pipelined request (consumer still kafkajs). Writes bench/results/broker.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Socket } from 'node:net';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { encodeRecordBatch } from '../events/src/broker/protocol/record-batch.js';
import { TSX_NODE_ARGS } from '../scripts/lib/processes.js';
import { Writer } from '../events/src/broker/protocol/writer.js';

const here = fileURLToPath(import.meta.url);
const root = resolve(dirname(here), '..');
const { values: args } = parseArgs({
  options: {
    role: { type: 'string' },
    brokers: { type: 'string' },
    topic: { type: 'string' },
    size: { type: 'string' },
    duration: { type: 'string', default: '4' },
    'latency-duration': { type: 'string', default: '5' },
    'in-flight': { type: 'string', default: '8' },
    partitions: { type: 'string', default: '8' },
    only: { type: 'string' },
  },
});
const BATCH = 100;
const WARMUP_MS = 1000;
const MAX_RECORDS_PER_WORKER = 20_000_000;

function kafka(brokers: string, clientId: string): Kafka {
  return new Kafka({ brokers: [brokers], clientId, logLevel: logLevel.NOTHING });
}

// ── producer worker (child process) ─────────────────────────────────────────────────────────────
async function producerWorker(): Promise<void> {
  const size = Number(args.size);
  const inFlight = Number(args['in-flight']);
  const partitions = Number(args.partitions);
  const durationMs = Number(args.duration) * 1000;
  const producer = kafka(args.brokers!, `bench-${process.pid}`).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(size, 'x');
  const batches = Array.from({ length: partitions }, (_, p) =>
    Array.from({ length: BATCH }, () => ({ value, partition: p })),
  );
  let next = Math.floor(Math.random() * partitions);
  let counting = false;
  let records = 0;
  let stop = false;
  const start = performance.now();
  const loop = async (): Promise<void> => {
    while (!stop) {
      const messages = batches[next++ % partitions]!;
      await producer.send({ topic: args.topic!, acks: -1, messages });
      if (counting) records += BATCH;
      if (records >= MAX_RECORDS_PER_WORKER) stop = true;
    }
  };
  const loops = Array.from({ length: inFlight }, loop);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, durationMs));
  const elapsed = (performance.now() - t0) / 1000;
  const counted = records;
  stop = true;
  await Promise.all(loops);
  await producer.disconnect();
  process.stdout.write(JSON.stringify({ records: counted, seconds: elapsed, total: (performance.now() - start) / 1000 }) + '\n');
}

// ── raw protocol worker (child process): pipelined, pre-encoded produce requests ──────────────────
async function rawWorker(): Promise<void> {
  const size = Number(args.size);
  const partitions = Number(args.partitions);
  const inFlight = Number(args['in-flight']) * 2;
  const durationMs = Number(args.duration) * 1000;
  const [host, port] = args.brokers!.split(':') as [string, string];
  const batch = encodeRecordBatch(Array.from({ length: BATCH }, () => ({ value: Buffer.alloc(size, 'x') })));
  const frames = Array.from({ length: partitions }, (_, p) => {
    const w = new Writer(batch.length + 128);
    w.int32(0).int16(0).int16(7).int32(p).string('bench-raw');
    w.nullableString(null).int16(-1).int32(30_000);
    w.array([args.topic!], (w, t) => w.string(t).array([p], (w, part) => w.int32(part).bytes(batch)));
    w.patchInt32(0, w.offset - 4);
    return Buffer.from(w.toBuffer());
  });
  let counting = false;
  let records = 0;
  let stop = false;
  const socket = new Socket();
  socket.setNoDelay(true);
  await new Promise<void>((res) => socket.connect(Number(port), host, res));
  let pending = 0;
  let next = 0;
  let buf: Buffer = Buffer.alloc(0);
  const done = new Promise<void>((resolveDone) => {
    const pump = (): void => {
      while (!stop && pending < inFlight) {
        socket.write(frames[next++ % partitions]!);
        pending++;
      }
      if (stop && pending === 0) resolveDone();
    };
    socket.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const len = buf.readInt32BE(0);
        // errorCode of the single partition: corr(4) topics(4) name(2+n) parts(4) index(4) error(2)
        const nameLen = buf.readInt16BE(12);
        if (buf.readInt16BE(4 + 4 + 4 + 2 + nameLen + 4 + 4) !== 0) throw new Error('produce failed');
        buf = buf.subarray(4 + len);
        pending--;
        if (counting) records += BATCH;
      }
      pump();
    });
    pump();
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, durationMs));
  const seconds = (performance.now() - t0) / 1000;
  const counted = records;
  stop = true;
  await done;
  socket.destroy();
  process.stdout.write(JSON.stringify({ records: counted, seconds }) + '\n');
}

// ── orchestration ────────────────────────────────────────────────────────────────────────────────
interface BrokerProc {
  proc: ChildProcess;
  address: string;
}

function startBrokerProcess(dataDir: string | null): Promise<BrokerProc> {
  const cliArgs = [...TSX_NODE_ARGS, join(root, 'events/src/broker/cli.ts'), '--port', '0'];
  if (dataDir) cliArgs.push('--data-dir', dataDir);
  const proc = spawn(process.execPath, cliArgs, { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error('broker did not start')), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        res({ proc, address: m[1]! });
      }
    });
    proc.once('exit', (code) => rej(new Error(`broker exited ${code}`)));
  });
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    proc.once('exit', () => res());
    process.kill(proc.pid!, 'SIGTERM');
    setTimeout(() => proc.exitCode === null && process.kill(proc.pid!, 'SIGKILL'), 10_000).unref();
  });
}

function runWorker(brokers: string, topic: string, size: number, role: 'producer' | 'raw'): Promise<{ records: number; seconds: number }> {
  const proc = spawn(
    process.execPath,
    [...TSX_NODE_ARGS, here, '--role', role, '--brokers', brokers, '--topic', topic, '--size', String(size),
      '--duration', args.duration!, '--in-flight', args['in-flight']!, '--partitions', args.partitions!],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => process.kill(proc.pid!, 'SIGKILL'), (Number(args.duration) + 60) * 1000);
  return new Promise((res, rej) => {
    proc.once('exit', (code) => {
      clearTimeout(killer);
      try {
        res(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        rej(new Error(`producer worker failed (${code}): ${out}`));
      }
    });
  });
}

interface ThroughputRow {
  client: 'kafkajs' | 'raw';
  storage: 'memory' | 'data dir';
  recordBytes: number;
  producers: number;
  recordsPerSec: number;
  mbPerSec: number;
}

async function throughput(client: 'kafkajs' | 'raw', storage: 'memory' | 'data dir', size: number, producers: number): Promise<ThroughputRow> {
  const dir = storage === 'data dir' ? mkdtempSync(join(tmpdir(), 'broker-bench-')) : null;
  const broker = await startBrokerProcess(dir);
  try {
    const admin = kafka(broker.address, 'bench-admin').admin();
    await admin.connect();
    const topic = `bench-${size}-${producers}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: Number(args.partitions) }] });
    await admin.disconnect();
    const results = await Promise.all(Array.from({ length: producers }, () => runWorker(broker.address, topic, size, client === 'raw' ? 'raw' : 'producer')));
    const recordsPerSec = results.reduce((n, r) => n + r.records / r.seconds, 0);
    return { client, storage, recordBytes: size, producers, recordsPerSec, mbPerSec: (recordsPerSec * size) / 1e6 };
  } finally {
    await stopProcess(broker.proc);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

interface LatencyRow {
  storage: 'memory' | 'data dir';
  producer: 'kafkajs' | 'raw';
  /** Records/s actually offered (below 1,000 means the client could not keep the schedule). */
  achievedRate: number;
  records: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Minimal pipelining producer for one partition: one Produce v7 request per record, NODELAY socket. */
async function rawSender(address: string, topic: string): Promise<{ send(value: string): void; close(): void }> {
  const [host, port] = address.split(':') as [string, string];
  const socket = new Socket();
  socket.setNoDelay(true);
  await new Promise<void>((res) => socket.connect(Number(port), host, res));
  socket.on('data', () => {});
  let id = 0;
  return {
    send(value) {
      const batch = encodeRecordBatch([{ value }]);
      const w = new Writer(batch.length + 96);
      w.int32(0).int16(0).int16(7).int32(id++).string('bench-raw-latency');
      w.nullableString(null).int16(-1).int32(30_000);
      w.array([topic], (w, t) => w.string(t).array([0], (w, p) => w.int32(p).bytes(batch)));
      w.patchInt32(0, w.offset - 4);
      socket.write(w.toBuffer());
    },
    close: () => socket.destroy(),
  };
}

async function latency(storage: 'memory' | 'data dir', client: 'kafkajs' | 'raw'): Promise<LatencyRow> {
  const dir = storage === 'data dir' ? mkdtempSync(join(tmpdir(), 'broker-bench-')) : null;
  const broker = await startBrokerProcess(dir);
  const k = kafka(broker.address, 'bench-latency');
  const producer: Producer = k.producer();
  const consumer = k.consumer({ groupId: 'bench-latency', maxWaitTimeInMs: 500 });
  try {
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'latency', numPartitions: 1 }] });
    await admin.disconnect();
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: 'latency', fromBeginning: false });
    const sentAt = new Map<number, number>();
    const samples: number[] = [];
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const id = Number(message.value!.toString());
        const t = sentAt.get(id);
        if (t !== undefined && id >= 0) samples.push(performance.now() - t);
      },
    });
    for (let i = 0; i < 200 && !joined; i++) await new Promise((r) => setTimeout(r, 50));
    // Warm-up record so the consumer is positioned and fetching.
    await producer.send({ topic: 'latency', acks: -1, messages: [{ value: '-1' }] });
    await new Promise((r) => setTimeout(r, 500));

    const raw = client === 'raw' ? await rawSender(broker.address, 'latency') : null;
    const durationMs = Number(args['latency-duration']) * 1000;
    const total = Math.round(durationMs / 1); // 1,000 records/s
    const sends: Promise<unknown>[] = [];
    const schedule = async (count: number, idBase: number, measured: boolean): Promise<number> => {
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const due = start + i;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        if (measured) sentAt.set(idBase + i, performance.now());
        if (raw) raw.send(String(idBase + i));
        else sends.push(producer.send({ topic: 'latency', acks: -1, messages: [{ value: String(idBase + i) }] }));
      }
      return start;
    };
    // One unmeasured second at the same rate, so JIT warm-up of the client is not in the figures.
    await schedule(1000, 1_000_000, false);
    await Promise.all(sends.splice(0));
    const start = await schedule(total, 0, true);
    const sendSeconds = (performance.now() - start) / 1000;
    await Promise.all(sends);
    for (let i = 0; i < 100 && samples.length < total; i++) await new Promise((r) => setTimeout(r, 50));
    raw?.close();
    const sorted = samples.sort((a, b) => a - b);
    return { storage, producer: client, achievedRate: Math.round(total / sendSeconds), records: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? NaN };
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await stopProcess(broker.proc);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r, j) => r.map((c, i) => (i === 0 || j === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const rows: ThroughputRow[] = [];
  const plan: [client: 'kafkajs' | 'raw', producers: number][] = [['kafkajs', 1], ['kafkajs', 4], ['raw', 1]];
  for (const storage of args.only === 'latency' ? [] : (['memory', 'data dir'] as const)) {
    for (const size of [100, 1024]) {
      for (const [client, producers] of plan) {
        const row = await throughput(client, storage, size, producers);
        rows.push(row);
        console.error(`throughput ${client} ${storage} ${size}B x${producers}: ${Math.round(row.recordsPerSec)} rec/s`);
      }
    }
  }
  const lat: LatencyRow[] = [];
  for (const storage of args.only === 'throughput' ? [] : (['memory', 'data dir'] as const)) {
    for (const client of ['kafkajs', 'raw'] as const) lat.push(await latency(storage, client));
  }

  console.log('\nProduce throughput (kafkajs, acks=-1, 100 records per send, ' + `${args['in-flight']} sends in flight per producer)`);
  console.log(
    table(
      ['client', 'storage', 'record', 'producers', 'records/s', 'MB/s'],
      rows.map((r) => [r.client, r.storage, `${r.recordBytes} B`, r.producers, Math.round(r.recordsPerSec).toLocaleString('en-US'), r.mbPerSec.toFixed(1)]),
    ),
  );
  console.log('\nEnd-to-end latency, send() -> eachMessage, 1,000 records/s, acks=-1');
  console.log(table(['producer', 'storage', 'offered rec/s', 'records', 'p50 ms', 'p99 ms', 'max ms'], lat.map((l) => [l.producer, l.storage, l.achievedRate, l.records, l.p50Ms.toFixed(2), l.p99Ms.toFixed(2), l.maxMs.toFixed(2)])));

  const result = {
    benchmark: 'broker',
    date: new Date().toISOString(),
    // Figures are only comparable at similar load: other processes compete for the same cores.
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    settings: { durationS: Number(args.duration), inFlightPerProducer: Number(args['in-flight']), batch: BATCH, partitions: Number(args.partitions), fsync: 'interval' },
    throughput: rows,
    latency: lat,
    goals: {
      throughput100BMemory: {
        goal: 200_000,
        kafkajs: Math.max(...rows.filter((r) => r.client === 'kafkajs' && r.storage === 'memory' && r.recordBytes === 100).map((r) => r.recordsPerSec)),
        raw: Math.max(...rows.filter((r) => r.client === 'raw' && r.storage === 'memory' && r.recordBytes === 100).map((r) => r.recordsPerSec)),
      },
      p99LatencyMs: { goal: 5, kafkajsMemory: lat.find((l) => l.producer === 'kafkajs' && l.storage === 'memory')?.p99Ms, rawMemory: lat.find((l) => l.producer === 'raw' && l.storage === 'memory')?.p99Ms },
    },
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/broker.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`\nmachine: ${cpus().length} CPUs, load average ${loadBefore[0]!.toFixed(1)} before / ${loadavg()[0]!.toFixed(1)} after`);
  console.log('wrote bench/results/broker.json');
}

if (args.role === 'producer') await producerWorker();
else if (args.role === 'raw') await rawWorker();
else await main();
