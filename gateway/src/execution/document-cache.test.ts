import { describe, expect, it } from 'vitest';
import { buildSchema } from '../graphql.js';
import { DocumentCache } from './document-cache.js';

const schema = buildSchema('type Query { a: Int, b(n: Int): Int }');

describe('DocumentCache', () => {
  it('parses and validates a text once, and hands out the first copy of the text', () => {
    const cache = new DocumentCache();
    const first = cache.check(schema, '{ a }');
    const again = cache.check(schema, ['{', ' a }'].join(''));
    expect('document' in first && 'document' in again).toBe(true);
    if (!('document' in first) || !('document' in again)) return;
    expect(again.document).toBe(first.document);
    expect(again.query).toBe(first.query);
  });

  it('answers parse and validation errors with codes, and keeps none of them', () => {
    const cache = new DocumentCache();
    const parseError = cache.check(schema, '{ a');
    const invalid = cache.check(schema, '{ nope }');
    expect('errors' in parseError && parseError.errors[0]?.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect('errors' in invalid && invalid.errors[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    // Not cached: asked again, the error is a new one.
    const invalidAgain = cache.check(schema, '{ nope }');
    expect('errors' in invalidAgain && 'errors' in invalid && invalidAgain.errors[0] !== invalid.errors[0]).toBe(true);
  });

  it('bounds what it holds by size: huge texts are not kept, and the least recently used go first', () => {
    const cache = new DocumentCache();
    const huge = `{ ${Array.from({ length: 4_000 }, (_, i) => `x${i}: a`).join(' ')} }`;
    const h1 = cache.check(schema, huge);
    const h2 = cache.check(schema, huge);
    expect('document' in h1 && 'document' in h2 && h1.document !== h2.document).toBe(true);

    const kept = cache.check(schema, '{ a }');
    const text = (i: number) => `{ b(n: ${i}) ${' '.repeat(10_000)} }`;
    const first = cache.check(schema, text(0));
    // ~1.2 MiB of distinct 10 KiB texts pushes older entries out, but not one used in between.
    for (let i = 1; i < 120; i++) {
      cache.check(schema, text(i));
      if (i % 10 === 0) cache.check(schema, '{ a }');
    }
    const keptAgain = cache.check(schema, '{ a }');
    expect('document' in kept && 'document' in keptAgain && keptAgain.document === kept.document).toBe(true);
    const firstAgain = cache.check(schema, text(0));
    expect('document' in first && 'document' in firstAgain && first.document !== firstAgain.document).toBe(true);
    const recent = cache.check(schema, text(119));
    const recentAgain = cache.check(schema, text(119));
    expect('document' in recent && 'document' in recentAgain && recent.document === recentAgain.document).toBe(true);
  });
});
