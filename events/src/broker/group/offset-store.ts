/**
 * Committed offsets per group/topic/partition. With a dataDir every commit is appended as one JSON
 * line to `consumer-offsets.log` before it is acknowledged (written to the page cache, so it survives
 * a kill -9); the file is compacted to the latest value per key on start. A torn last line from a
 * crash is simply ignored.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

interface Line {
  g: string;
  t: string;
  p: number;
  o: number | null;
  m?: string | null;
}

export class OffsetStore {
  private readonly groups = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  private fd: number | null = null;
  private dirty = false;

  /** `syncEveryCommit`: fsync before a commit is acknowledged (the `fsync: 'always'` policy). */
  constructor(
    dataDir: string | null,
    private readonly syncEveryCommit = false,
  ) {
    if (!dataDir) return;
    const path = join(dataDir, 'consumer-offsets.log');
    if (existsSync(path)) {
      for (const raw of readFileSync(path, 'utf8').split('\n')) {
        if (!raw) continue;
        let line: Line;
        try {
          line = JSON.parse(raw) as Line;
        } catch {
          continue;
        }
        if (line.o === null) this.remove(line.g, line.t, line.p);
        else this.set(line.g, line.t, line.p, { offset: line.o, metadata: line.m ?? null });
      }
    }
    const compacted = this.lines().map((l) => JSON.stringify(l) + '\n').join('');
    writeFileSync(`${path}.tmp`, compacted);
    renameSync(`${path}.tmp`, path);
    this.fd = openSync(path, 'a');
  }

  private lines(): Line[] {
    const out: Line[] = [];
    for (const [g, topics] of this.groups) {
      for (const [t, parts] of topics) for (const [p, c] of parts) out.push({ g, t, p, o: c.offset, m: c.metadata });
    }
    return out;
  }

  private set(group: string, topic: string, partition: number, c: CommittedOffset): void {
    let topics = this.groups.get(group);
    if (!topics) this.groups.set(group, (topics = new Map()));
    let parts = topics.get(topic);
    if (!parts) topics.set(topic, (parts = new Map()));
    parts.set(partition, c);
  }

  private remove(group: string, topic: string, partition: number): void {
    this.groups.get(group)?.get(topic)?.delete(partition);
  }

  private append(lines: Line[]): void {
    if (this.fd === null || lines.length === 0) return;
    writeSync(this.fd, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    this.dirty = true;
    if (this.syncEveryCommit) this.flush();
  }

  commit(group: string, entries: { topic: string; partition: number; offset: number; metadata: string | null }[]): void {
    for (const e of entries) this.set(group, e.topic, e.partition, { offset: e.offset, metadata: e.metadata });
    this.append(entries.map((e) => ({ g: group, t: e.topic, p: e.partition, o: e.offset, m: e.metadata })));
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(topic)?.get(partition);
  }

  /** All committed offsets of a group, by topic. */
  ofGroup(group: string): Map<string, Map<number, CommittedOffset>> {
    return this.groups.get(group) ?? new Map();
  }

  groupIds(): string[] {
    return [...this.groups.keys()].filter((g) => [...(this.groups.get(g)?.values() ?? [])].some((p) => p.size > 0));
  }

  /** Removes some of a group's offsets (OffsetDelete); partitions without one are ignored. */
  delete(group: string, entries: { topic: string; partition: number }[]): void {
    const tombstones: Line[] = [];
    for (const e of entries) {
      if (!this.get(group, e.topic, e.partition)) continue;
      this.remove(group, e.topic, e.partition);
      tombstones.push({ g: group, t: e.topic, p: e.partition, o: null });
    }
    this.append(tombstones);
  }

  /** Removes every offset of a group (DeleteGroups). */
  deleteGroup(group: string): void {
    const entries = [...this.ofGroup(group)].flatMap(([topic, parts]) => [...parts.keys()].map((partition) => ({ topic, partition })));
    this.delete(group, entries);
    this.groups.delete(group);
  }

  /** Kafka drops the offsets of a deleted topic, so a re-created topic starts fresh for every group. */
  deleteTopic(topic: string): void {
    const tombstones: Line[] = [];
    for (const [g, topics] of this.groups) {
      const parts = topics.get(topic);
      if (!parts) continue;
      for (const p of parts.keys()) tombstones.push({ g, t: topic, p, o: null });
      topics.delete(topic);
    }
    this.append(tombstones);
  }

  flush(): void {
    if (this.fd !== null && this.dirty) {
      this.dirty = false;
      fsyncSync(this.fd);
    }
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}
