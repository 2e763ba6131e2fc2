import { describe, expect, it } from 'vitest';
import { prepareResumableOperation } from './upstream.js';

const resume = { argument: 'after', cursorField: 'sequence' };

describe('prepareResumableOperation', () => {
  it('adds the cursor field when the client did not select it', () => {
    const { query } = prepareResumableOperation('subscription S($id:ID!){orderStatusChanged(orderId:$id){status}}', resume, undefined);
    expect(query).toMatch(/status\s+sequence/);
    expect(query).not.toContain('after');
  });

  it('sets a literal `after` when resuming an operation without one, replacing a literal', () => {
    expect(prepareResumableOperation('subscription{orderStatusChanged(orderId:"o1"){sequence}}', resume, 4).query).toContain('after: 4');
    const replaced = prepareResumableOperation('subscription{orderStatusChanged(orderId:"o1", after: 1){sequence}}', resume, 4).query;
    expect(replaced).toContain('after: 4');
    expect(replaced).not.toContain('after: 1');
  });

  it('leaves a variable `after` alone (the variables carry the cursor)', () => {
    const { query } = prepareResumableOperation('subscription S($a:Int){orderStatusChanged(orderId:"o1", after:$a){sequence}}', resume, 4);
    expect(query).toContain('after: $a');
  });
});
