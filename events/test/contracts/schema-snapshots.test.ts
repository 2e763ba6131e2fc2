import { mkdtemp, readFile, rm, writeFile, readdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SCHEMAS_DIR, compareSnapshots, expectedSnapshots, renderSchema } from '../../src/contracts/schema-snapshots.js';

const HOW_TO_FIX =
  'a breaking change needs a new version and an upcaster; a new version needs its snapshot (node --conditions=@shop/source --import tsx events/src/contracts/snapshot-cli.ts)';

describe('event schema snapshots (events/schemas)', () => {
  it('every published version matches its committed snapshot, and every version has one', async () => {
    const diff = await compareSnapshots();
    expect(diff.changed, `changed: ${HOW_TO_FIX}`).toEqual([]);
    expect(diff.missing, `missing: ${HOW_TO_FIX}`).toEqual([]);
    expect(diff.orphaned, 'a snapshot whose version was removed: published versions must stay').toEqual([]);
  });

  it('covers ProductRegistered v1 and v2', () => {
    expect([...expectedSnapshots().keys()]).toEqual(expect.arrayContaining(['ProductRegistered.v1.json', 'ProductRegistered.v2.json']));
  });

  describe('the check itself', () => {
    const dirs: string[] = [];
    afterAll(async () => {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    });
    async function copyOfSnapshots(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), 'schemas-'));
      dirs.push(dir);
      for (const f of await readdir(SCHEMAS_DIR)) await copyFile(join(SCHEMAS_DIR, f), join(dir, f));
      return dir;
    }

    it('flags an edited version as changed', async () => {
      const dir = await copyOfSnapshots();
      // what an in-place edit of OrderPlaced v1 (a field made required/renamed) would render
      const edited = renderSchema('OrderPlaced', 1, z.object({ orderId: z.string(), customerRef: z.string() }));
      await writeFile(join(dir, 'OrderPlaced.v1.json'), edited);
      expect(await compareSnapshots(dir)).toEqual({ changed: ['OrderPlaced.v1.json'], missing: [], orphaned: [] });
    });

    it('flags a version without a snapshot as missing, and a snapshot without a version as orphaned', async () => {
      const dir = await copyOfSnapshots();
      await rm(join(dir, 'ProductRegistered.v2.json'));
      await writeFile(join(dir, 'ProductRegistered.v3.json'), await readFile(join(SCHEMAS_DIR, 'ProductRegistered.v2.json')));
      expect(await compareSnapshots(dir)).toEqual({ changed: [], missing: ['ProductRegistered.v2.json'], orphaned: ['ProductRegistered.v3.json'] });
    });
  });
});
