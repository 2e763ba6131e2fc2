/**
 * The broker driven by librdkafka, a client that shares no code with it: Debian's `kcat` and
 * `python3-confluent-kafka` (fixtures/rdkafka_client.py), spawned as child processes against an
 * in-process broker on 127.0.0.1. Both are required (CI and `npm test` install them): a missing one
 * fails these tests instead of skipping them. Every child has a deadline and is killed by pid at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/index.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { Compression, readBatchHeader, splitBatches, type BatchInfo } from '../../src/broker/protocol/record-batch.js';
import { kafkaFor, RawClient, startTestBroker } from './helpers.js';

const KCAT = '/usr/bin/kcat';
// The Debian package installs confluent_kafka for the system interpreter, not for one on PATH (pyenv etc.).
const PYTHON = '/usr/bin/python3';
const CLIENT = resolve(import.meta.dirname, 'fixtures/rdkafka_client.py');
const RETENTION_MS = 3_600_000;

let broker: Broker;
let dataDir: string;
const children = new Set<ChildProcess>();

const start = (): Promise<Broker> => startTestBroker({ dataDir, retentionMs: RETENTION_MS });

beforeAll(async () => {
  for (const file of [KCAT, PYTHON]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: apt-get install kcat python3-confluent-kafka`);
  }
  dataDir = mkdtempSync(join(tmpdir(), 'librdkafka-broker-'));
  broker = await start();
});

afterAll(async () => {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }
  await broker?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a client to completion with a deadline (SIGKILL by pid when it passes). */
function run(cmd: string, args: string[], input = '', timeoutMs = 20_000): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      fail(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      done({ code, stdout, stderr, timedOut });
    });
    child.stdin.end(input);
  });
}

const kcat = (args: string[], input = ''): Promise<Run> => run(KCAT, ['-b', broker.address, ...args], input);

/** One rdkafka_client.py command; it must succeed and print one JSON object. */
async function rdkafka<T>(command: string, ...args: string[]): Promise<T> {
  const r = await run(PYTHON, [CLIENT, broker.address, command, ...args]);
  expect(r, r.stderr).toMatchObject({ code: 0, timedOut: false });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
}

/** Everything in a topic, read by kcat until the end of every partition. */
async function consumeAll(topic: string, extra: string[] = []): Promise<KcatRecord[]> {
  const r = await kcat(['-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q', ...extra]);
  expect(r, r.stderr).toMatchObject({ code: 0, timedOut: false });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as KcatRecord);
}

/** The batch headers as stored, read with a plain Fetch: what the producer actually sent. */
async function storedBatches(topic: string, partition: number): Promise<BatchInfo[]> {
  const raw = await RawClient.connect(broker.port);
  try {
    const frame = await raw.request(1, 4, (w) => {
      w.int32(-1).int32(0).int32(0).int32(64 << 20).int8(0);
      w.array([topic], (w, t) => w.string(t).array([partition], (w, p) => w.int32(p).int64(0).int32(64 << 20)));
    });
    const r = new Reader(frame);
    r.int32();
    r.int32();
    const [res] = r.array((r) => {
      r.string();
      return r.array((r) => {
        r.int32();
        const errorCode = r.int16();
        r.int64();
        r.int64();
        r.nullableArray((r) => [r.int64(), r.int64()]);
        return { errorCode, records: r.bytes() };
      });
    });
    expect(res![0]!.errorCode).toBe(0);
    return splitBatches(Buffer.from(res![0]!.records)).map((b) => readBatchHeader(b));
  } finally {
    raw.close();
  }
}

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  const admin = kafkaFor(broker.address).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }] });
  } finally {
    await admin.disconnect();
  }
}

describe('librdkafka (kcat, confluent-kafka) against the broker', () => {
  it('lists the broker and topic metadata (kcat -L)', async () => {
    await createTopic('rd-meta', 3);
    const r = await kcat(['-L', '-J', '-t', 'rd-meta']);
    expect(r, r.stderr).toMatchObject({ code: 0, timedOut: false });
    const meta = JSON.parse(r.stdout) as { controllerid: number; brokers: unknown[]; topics: { topic: string; partitions: unknown[] }[] };
    expect(meta.controllerid).toBe(0);
    expect(meta.brokers).toEqual([{ id: 0, name: broker.address }]);
    expect(meta.topics).toEqual([
      {
        topic: 'rd-meta',
        partitions: [0, 1, 2].map((partition) => ({ partition, leader: 0, replicas: [{ id: 0 }], isrs: [{ id: 0 }] })),
      },
    ]);
  });

  it('produces keyed records with acks=all and gzip, and consumes from the beginning and from offsets (kcat)', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => `k${i % 5}:value-${i}-${'x'.repeat(40)}`);
    const produced = await kcat(['-P', '-t', 'rd-keyed', '-K', ':', '-z', 'gzip', '-X', 'acks=all'], lines.join('\n') + '\n');
    expect(produced, produced.stderr).toMatchObject({ code: 0, timedOut: false });
    // librdkafka only compresses for brokers that list Produce v0 (KAFKA-18659); otherwise it silently sends plain batches.
    const batches = await storedBatches('rd-keyed', 0);
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.every((b) => (b.attributes & 0x07) === Compression.Gzip)).toBe(true);

    const all = await consumeAll('rd-keyed');
    expect(all.map((m) => [m.offset, `${m.key}:${m.payload}`])).toEqual(lines.map((l, i) => [i, l]));
    const fromOffset = await consumeAll('rd-keyed', ['-p', '0', '-o', '25']);
    expect(fromOffset.map((m) => m.offset)).toEqual([25, 26, 27, 28, 29]);
    const lastTwo = await consumeAll('rd-keyed', ['-p', '0', '-o', '-2']);
    expect(lastTwo.map((m) => m.payload)).toEqual([lines[28]!.slice(3), lines[29]!.slice(3)]);
  });

  it('answers snappy, lz4 and zstd batches with UNSUPPORTED_COMPRESSION_TYPE, keeping the connection', async () => {
    const input = Array.from({ length: 50 }, (_, i) => `compressible-${i % 3}-${'y'.repeat(60)}`).join('\n') + '\n';
    const results = await Promise.all(
      ['snappy', 'lz4', 'zstd'].map((codec) => kcat(['-P', '-t', `rd-${codec}`, '-z', codec, '-X', 'message.timeout.ms=8000'], input)),
    );
    for (const r of results) {
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Delivery failed for message: Broker: Unsupported compression type');
      // A dropped connection would show up in librdkafka's log as a disconnect or a failed receive.
      expect(r.stderr).not.toMatch(/Disconnected|Receive failed|Connection reset/);
    }
    const ends = await kcat(['-Q', '-t', 'rd-snappy:0:-1', '-t', 'rd-lz4:0:-1', '-t', 'rd-zstd:0:-1']);
    expect(ends.stdout.trim().split('\n').sort()).toEqual(['rd-lz4 [0] offset 0', 'rd-snappy [0] offset 0', 'rd-zstd [0] offset 0']);
  });

  it('idempotent producer: one producer id, every record exactly once and in order per key (confluent-kafka)', async () => {
    await createTopic('rd-idem', 3);
    const count = 3000;
    type Report = { error: string | null; key: string; value: string; partition: number; offset: number };
    const res = await rdkafka<{ unflushed: number; reports: Report[] }>('idempotent', 'rd-idem', String(count), '10');
    expect(res.unflushed).toBe(0);
    expect(res.reports).toHaveLength(count);
    expect(res.reports.filter((r) => r.error !== null)).toEqual([]);
    // Offsets of each partition are exactly 0..n-1, and a key's records sit in one partition in send order.
    const byPartition = new Map<number, number[]>();
    for (const r of res.reports) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset]);
    for (const offsets of byPartition.values()) expect([...offsets].sort((a, b) => a - b)).toEqual(offsets.map((_, i) => i));
    const byKey = new Map<string, { partition: number; offset: number; value: number }[]>();
    for (const r of res.reports) {
      byKey.set(r.key, [...(byKey.get(r.key) ?? []), { partition: r.partition, offset: r.offset, value: Number(r.value) }]);
    }
    for (const recs of byKey.values()) {
      expect(new Set(recs.map((r) => r.partition)).size).toBe(1);
      const byOffset = [...recs].sort((a, b) => a.offset - b.offset).map((r) => r.value);
      expect(byOffset).toEqual([...byOffset].sort((a, b) => a - b));
    }

    const consumed = await consumeAll('rd-idem');
    expect(consumed).toHaveLength(count);
    expect(new Set(consumed.map((m) => m.payload)).size).toBe(count);

    const producerIds = new Set<number>();
    for (const partition of [0, 1, 2]) {
      const batches = await storedBatches('rd-idem', partition);
      let nextSequence = 0;
      for (const b of batches) {
        producerIds.add(b.producerId);
        expect(b.producerEpoch).toBe(0);
        expect(b.baseSequence).toBe(nextSequence);
        expect(b.attributes & 0x07).toBe(Compression.Gzip);
        nextSequence += b.recordCount;
      }
      expect(nextSequence).toBe(byPartition.get(partition)!.length);
    }
    expect(producerIds.size).toBe(1);
    expect([...producerIds][0]).toBeGreaterThanOrEqual(0);
  });

  it('a two-member group splits partitions and commits; after a broker restart the group resumes from its commits', async () => {
    await createTopic('rd-group', 4);
    const group = await rdkafka<{
      seen: { by: string; partition: number; offset: number; value: string }[];
      errors: string[];
      assignment: Record<string, number[]>;
      committed: Record<string, number>;
    }>('group', 'rd-group', 'rd-g', '200');
    expect(group.errors).toEqual([]);
    expect(group.seen).toHaveLength(200);
    expect(new Set(group.seen.map((s) => s.value)).size).toBe(200);
    const { c1, c2 } = group.assignment;
    expect(c1!.length).toBeGreaterThan(0);
    expect(c2!.length).toBeGreaterThan(0);
    expect([...c1!, ...c2!].sort()).toEqual([0, 1, 2, 3]);
    // Each record went to the member that owns its partition, and every partition's commit is its end.
    for (const s of group.seen) expect(group.assignment[s.by]).toContain(s.partition);
    for (const p of [0, 1, 2, 3]) {
      const ofPartition = group.seen.filter((s) => s.partition === p);
      expect(group.committed[String(p)]).toBe(ofPartition.length);
    }

    await broker.close();
    broker = await start();
    const more = Array.from({ length: 20 }, (_, i) => `late${i % 4}:after-restart-${i}`);
    const produced = await kcat(['-P', '-t', 'rd-group', '-K', ':', '-X', 'acks=all'], more.join('\n') + '\n');
    expect(produced, produced.stderr).toMatchObject({ code: 0, timedOut: false });
    const resumed = await rdkafka<{ values: string[] }>('resume', 'rd-group', 'rd-g', '20');
    expect([...resumed.values].sort()).toEqual(more.map((l) => l.split(':')[1]!).sort());
  });

  it('lists offsets by timestamp (kcat -Q), describes configs and groups (librdkafka admin)', async () => {
    const base = Date.now() - 100_000;
    expect(await rdkafka('produce-timestamps', 'rd-ts', String(base), '10')).toEqual({ unflushed: 0 });
    const query = async (ts: number) => {
      const r = await kcat(['-Q', '-t', `rd-ts:0:${ts}`]);
      expect(r, r.stderr).toMatchObject({ code: 0, timedOut: false });
      return Number(/offset (-?\d+)/.exec(r.stdout)![1]);
    };
    expect(await query(base + 3500)).toBe(4);
    expect(await query(base - 1)).toBe(0);
    expect(await query(base + 99_000)).toBe(-1);
    expect(await query(-1)).toBe(10);
    expect(await query(-2)).toBe(0);

    const admin = await rdkafka<{
      configs: Record<string, Record<string, { value: string | null; source: number; read_only: boolean }>>;
      missing: string | null;
      groups: { id: string; state: string; protocol_type: string }[];
      watermarks: number[];
    }>('admin', 'rd-ts', 'rd-g');
    expect(admin.configs['rd-ts']!['retention.ms']).toEqual({ value: String(RETENTION_MS), source: 4, read_only: true });
    expect(admin.configs['rd-ts']!['cleanup.policy']).toEqual({ value: 'delete', source: 5, read_only: true });
    expect(admin.configs['0']!['log.dirs']!.value).toBe(dataDir);
    expect(admin.missing).toBe('UNKNOWN_TOPIC_OR_PART');
    // The group's members are gone but its offsets (committed before the restart) keep it listed.
    expect(admin.groups).toEqual([{ id: 'rd-g', state: 'Empty', protocol_type: 'consumer' }]);
    expect(admin.watermarks).toEqual([0, 10]);
  });
});
