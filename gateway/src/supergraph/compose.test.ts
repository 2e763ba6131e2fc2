import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSupergraph, composeSupergraph, DEFAULT_SUBGRAPHS, DEFAULT_SUPERGRAPH_PATH } from './compose.js';

describe('supergraph composition check', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('the committed gateway/supergraph.graphql composes and is up to date', async () => {
    const result = await checkSupergraph(DEFAULT_SUPERGRAPH_PATH);
    expect(result).toEqual({ ok: true });
  });

  it('reports a stale file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'supergraph-'));
    dirs.push(dir);
    const path = join(dir, 'supergraph.graphql');
    await writeFile(path, (await readFile(DEFAULT_SUPERGRAPH_PATH, 'utf8')).replace('reserved: Int!', 'reserved: Int'));
    const result = await checkSupergraph(path);
    expect(result).toMatchObject({ ok: false, reason: 'stale' });
  });

  it('reports a composition error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'supergraph-'));
    dirs.push(dir);
    const broken = join(dir, 'inventory.graphql');
    // `Money` without @shareable while orders also resolves it: composition must refuse it.
    await writeFile(
      broken,
      (await readFile(DEFAULT_SUBGRAPHS[1]!.schemaPath, 'utf8')).replace('type Money @shareable', 'type Money'),
    );
    const subgraphs = DEFAULT_SUBGRAPHS.map((s) => (s.name === 'inventory' ? { ...s, schemaPath: broken } : s));
    await expect(composeSupergraph(subgraphs)).rejects.toThrow(/composition failed/);
    expect(await checkSupergraph(DEFAULT_SUPERGRAPH_PATH, subgraphs)).toMatchObject({ ok: false, reason: 'composition' });
  });
});
