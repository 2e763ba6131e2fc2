import { describe, expect, it } from 'vitest';
import { prepareResumableOperation, upstreamShapeOf } from './upstream.js';

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

describe('upstreamShapeOf', () => {
  const fields = new Map([['orderStatusChanged', resume]]);

  it('reads the resumable field, its response key, its resume argument and the first query from the operation', () => {
    const shape = upstreamShapeOf('subscription S($id:ID!,$a:Int){o: orderStatusChanged(orderId:$id, after:$a){status}}', fields);
    expect(shape.resume).toEqual(resume);
    expect(shape.responseKey).toBe('o');
    expect(shape.resumeValue).toMatchObject({ kind: 'Variable', name: { value: 'a' } });
    expect(shape.firstQuery).toMatch(/status\s+sequence/);
  });

  it('parses an operation once per set of resumable fields', () => {
    const op = 'subscription{orderStatusChanged(orderId:"o1"){status}}';
    expect(upstreamShapeOf(op, fields)).toBe(upstreamShapeOf(op, fields));
    const plain = upstreamShapeOf(op, new Map());
    expect(plain.resume).toBeUndefined();
    expect(plain.firstQuery).toBe(op);
  });
});
