/**
 * All topics and their partition logs, the topic catalogue (`topics.json`), the producer id counter
 * and the background work (interval fsync, age retention). With no dataDir everything is in memory.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { KafkaBrokerError } from '../protocol/errors.js';
import { PartitionLog } from './partition-log.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface LogManagerOptions {
  dataDir: string | null;
  segmentBytes: number;
  retentionBytes: number;
  retentionMs: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  logger: Logger;
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const MAX_PARTITIONS = 10_000;
const RETENTION_CHECK_MS = 60_000;

export function validateTopicName(name: string): void {
  if (!LEGAL_TOPIC.test(name) || name === '.' || name === '..') {
    throw new KafkaBrokerError('INVALID_TOPIC_EXCEPTION', `illegal topic name ${JSON.stringify(name)}`);
  }
}

/** Writes a small file so that a crash leaves either the old or the new content, never half. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export class LogManager {
  private readonly topics = new Map<string, PartitionLog[]>();
  private nextProducerId = 1000;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: LogManagerOptions) {
    const dir = opts.dataDir;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      const catalogue = join(dir, 'topics.json');
      if (existsSync(catalogue)) {
        const saved = JSON.parse(readFileSync(catalogue, 'utf8')) as { topics: Record<string, number> };
        for (const [name, count] of Object.entries(saved.topics)) {
          this.topics.set(name, Array.from({ length: count }, (_, p) => this.openLog(name, p)));
        }
      }
      const pidFile = join(dir, 'producer-id');
      if (existsSync(pidFile)) this.nextProducerId = Number(readFileSync(pidFile, 'utf8')) || this.nextProducerId;
    }
    if (opts.dataDir && opts.fsync === 'interval') {
      // Asynchronous fdatasync so a slow disk never stalls the event loop (and with it every client).
      this.timers.push(setInterval(() => this.syncAll(), opts.fsyncIntervalMs).unref());
    }
    this.timers.push(setInterval(() => this.enforceRetention(), RETENTION_CHECK_MS).unref());
    this.enforceRetention();
  }

  private openLog(topic: string, partition: number): PartitionLog {
    const { dataDir, segmentBytes, retentionBytes, retentionMs, logger } = this.opts;
    const dir = dataDir ? join(dataDir, `${topic}-${partition}`) : null;
    return PartitionLog.open(topic, partition, { dir, segmentBytes, retentionBytes, retentionMs }, logger);
  }

  private saveCatalogue(): void {
    if (!this.opts.dataDir) return;
    const topics = Object.fromEntries([...this.topics].map(([n, logs]) => [n, logs.length]));
    writeFileAtomic(join(this.opts.dataDir, 'topics.json'), JSON.stringify({ topics }));
  }

  get fsyncPolicy(): FsyncPolicy {
    return this.opts.dataDir ? this.opts.fsync : 'never';
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  partitions(topic: string): PartitionLog[] | undefined {
    return this.topics.get(topic);
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.[partition];
  }

  createTopic(name: string, numPartitions: number, validateOnly = false): void {
    validateTopicName(name);
    if (this.topics.has(name)) throw new KafkaBrokerError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    if (!Number.isInteger(numPartitions) || numPartitions < 1 || numPartitions > MAX_PARTITIONS) {
      throw new KafkaBrokerError('INVALID_PARTITIONS', `invalid partition count ${numPartitions}`);
    }
    if (validateOnly) return;
    if (this.opts.dataDir) {
      // A topic deleted and re-created must not resurrect old segments.
      for (let p = 0; p < numPartitions; p++) rmSync(join(this.opts.dataDir, `${name}-${p}`), { recursive: true, force: true });
    }
    this.topics.set(name, Array.from({ length: numPartitions }, (_, p) => this.openLog(name, p)));
    this.saveCatalogue();
    this.opts.logger.info({ topic: name, partitions: numPartitions }, 'topic created');
  }

  deleteTopic(name: string): void {
    const logs = this.topics.get(name);
    if (!logs) throw new KafkaBrokerError('UNKNOWN_TOPIC_OR_PARTITION');
    this.topics.delete(name);
    this.saveCatalogue();
    for (const log of logs) log.deleteFiles();
    if (this.opts.dataDir) {
      for (const log of logs) rmSync(join(this.opts.dataDir, `${name}-${log.partition}`), { recursive: true, force: true });
    }
    this.opts.logger.info({ topic: name }, 'topic deleted');
  }

  addPartitions(name: string, count: number, validateOnly = false): void {
    const logs = this.topics.get(name);
    if (!logs) throw new KafkaBrokerError('UNKNOWN_TOPIC_OR_PARTITION');
    if (!Number.isInteger(count) || count <= logs.length || count > MAX_PARTITIONS) {
      throw new KafkaBrokerError('INVALID_PARTITIONS', `topic ${name} has ${logs.length} partitions, asked for ${count}`);
    }
    if (validateOnly) return;
    for (let p = logs.length; p < count; p++) {
      if (this.opts.dataDir) rmSync(join(this.opts.dataDir, `${name}-${p}`), { recursive: true, force: true });
      logs.push(this.openLog(name, p));
    }
    this.saveCatalogue();
  }

  /** Producer ids are never reused across restarts: the counter is persisted before it is handed out. */
  allocateProducerId(): number {
    const id = this.nextProducerId++;
    if (this.opts.dataDir) writeFileAtomic(join(this.opts.dataDir, 'producer-id'), String(this.nextProducerId));
    return id;
  }

  syncAll(): void {
    for (const logs of this.topics.values()) for (const log of logs) void log.sync();
  }

  flushAll(): void {
    for (const logs of this.topics.values()) for (const log of logs) log.flush();
  }

  enforceRetention(): void {
    const now = Date.now();
    for (const logs of this.topics.values()) {
      for (const log of logs) {
        const removed = log.enforceRetention(now);
        if (removed) this.opts.logger.info({ topic: log.topic, partition: log.partition, removed }, 'retention deleted segments');
      }
    }
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const logs of this.topics.values()) for (const log of logs) log.close();
  }
}
