import { describe, expect, it } from 'vitest';
import { buildSchema } from '../graphql.js';
import { resumableFields } from './resumable.js';
import { resumableOf } from './upstream.js';

const schema = buildSchema(`
  type Query { a: Int }
  type Change { sequence: Int!, status: String }
  type Tick { at: Int }
  type Subscription {
    changed(id: ID!, after: Int): Change!
    changedFrom(after: String): Change!
    ticks(after: Int): Tick!
    plain(id: ID!): Change!
  }
`);

describe('resumable subscriptions', () => {
  it('are the fields with an `after: Int` argument whose event has an Int `sequence`, read from the schema', () => {
    expect([...resumableFields(schema)]).toEqual([['changed', { argument: 'after', cursorField: 'sequence' }]]);
  });

  it('are recognised by the root field of the upstream operation, aliases and shared prefixes included', () => {
    const fields = resumableFields(schema);
    expect(resumableOf('subscription { c: changed(id: "1") { status } }', fields)?.field).toEqual({ argument: 'after', cursorField: 'sequence' });
    expect(resumableOf('subscription($id: ID!) { changed(id: $id) { status } }', fields)?.responseKey).toBe('changed');
    expect(resumableOf('subscription { changedFrom(after: "x") { status } }', fields)).toBeUndefined();
    expect(resumableOf('subscription { plain(id: "changed") { status } }', fields)).toBeUndefined();
  });
});
