import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OffsetStore } from './offset-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('OffsetStore', () => {
  it('persists OffsetDelete and DeleteGroups removals across a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'offsets-'));
    dirs.push(dir);
    const store = new OffsetStore(dir);
    store.commit('a', [
      { topic: 't', partition: 0, offset: 1, metadata: null },
      { topic: 't', partition: 1, offset: 2, metadata: 'm' },
    ]);
    store.commit('b', [{ topic: 't', partition: 0, offset: 3, metadata: null }]);
    store.delete('a', [{ topic: 't', partition: 0 }, { topic: 'never', partition: 0 }]);
    store.deleteGroup('b');
    store.close();

    const reopened = new OffsetStore(dir);
    expect(reopened.get('a', 't', 0)).toBeUndefined();
    expect(reopened.get('a', 't', 1)).toEqual({ offset: 2, metadata: 'm' });
    expect(reopened.groupIds()).toEqual(['a']);
    reopened.close();
  });
});
