import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { allEventVersions, type EventType } from './registry.js';

/**
 * Committed JSON Schema snapshots of every version of every event (`events/schemas/<Type>.v<N>.json`).
 * A published version is a promise to its consumers: its snapshot never changes. A breaking change gets
 * a new version and an upcaster; the snapshot test fails on an edit in place.
 */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

export function snapshotFileName(type: EventType, version: number): string {
  return `${type}.v${version}.json`;
}

/**
 * The snapshot text of one schema. `io: 'input'` describes what a consumer accepts (objects are not closed:
 * unknown keys are stripped, so adding an optional field stays compatible at the reader).
 */
export function renderSchema(type: EventType, version: number, schema: z.ZodType): string {
  const { $schema, ...json } = z.toJSONSchema(schema, { io: 'input' });
  return `${JSON.stringify({ $schema, title: `${type} v${version}`, ...json }, null, 2)}\n`;
}

/** File name → expected content, for every version in the registry. */
export function expectedSnapshots(): Map<string, string> {
  return new Map(allEventVersions().map(({ type, version, schema }) => [snapshotFileName(type, version), renderSchema(type, version, schema)]));
}

export interface SnapshotDiff {
  /** Versions without a committed snapshot (new: run the snapshot script). */
  missing: string[];
  /** Snapshots whose version's schema changed: a breaking edit of a published version. */
  changed: string[];
  /** Snapshots of versions that no longer exist: a published version was removed. */
  orphaned: string[];
}

export async function compareSnapshots(dir: string = SCHEMAS_DIR): Promise<SnapshotDiff> {
  const expected = expectedSnapshots();
  const present = new Set((await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')));
  const diff: SnapshotDiff = { missing: [], changed: [], orphaned: [] };
  for (const [file, content] of expected) {
    if (!present.has(file)) diff.missing.push(file);
    else if ((await readFile(`${dir}/${file}`, 'utf8')) !== content) diff.changed.push(file);
  }
  for (const file of present) if (!expected.has(file)) diff.orphaned.push(file);
  return diff;
}
