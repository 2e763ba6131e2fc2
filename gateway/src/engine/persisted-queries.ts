import { createHash } from 'node:crypto';

/** Total text of the persisted queries kept, least recently used out first. */
const MAX_TOTAL_CHARS = 4 * 1024 * 1024;

/**
 * Automatic persisted queries (Apollo's APQ): a client sends `extensions.persistedQuery.sha256Hash`
 * alone, and the full text once when the gateway does not know it. Held in memory, per replica.
 */
export class PersistedQueries {
  #texts = new Map<string, string>();
  #chars = 0;

  get(hash: string): string | undefined {
    const text = this.#texts.get(hash);
    if (text !== undefined) {
      this.#texts.delete(hash);
      this.#texts.set(hash, text);
    }
    return text;
  }

  /** Keeps `query` under `hash`; false when the hash is not the text's. */
  put(hash: string, query: string): boolean {
    if (createHash('sha256').update(query).digest('hex') !== hash.toLowerCase()) return false;
    if (this.#texts.has(hash)) return true;
    this.#texts.set(hash, query);
    this.#chars += query.length;
    for (const [oldest, text] of this.#texts) {
      if (this.#chars <= MAX_TOTAL_CHARS) break;
      this.#texts.delete(oldest);
      this.#chars -= text.length;
    }
    return true;
  }
}
