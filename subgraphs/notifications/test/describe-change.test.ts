import { describe, expect, it } from 'vitest';
import { describeChange } from '../src/projector.js';
import { notificationIdFor } from '../src/read-model.js';
import { NOTIFICATION_ID } from '../src/keys.js';

describe('describeChange', () => {
  it('notifies final outcomes with the reason', () => {
    expect(describeChange('CONFIRMED', 'ord_1', null)).toEqual({ kind: 'ORDER_CONFIRMED', message: 'Your order ord_1 is confirmed.' });
    expect(describeChange('REJECTED', 'ord_1', 'line 1 (prd_a): not enough stock')).toEqual({
      kind: 'ORDER_REJECTED',
      message: 'Your order ord_1 was rejected: line 1 (prd_a): not enough stock',
    });
    expect(describeChange('CANCELLED', 'ord_1', null)?.kind).toBe('ORDER_CANCELLED');
  });
  it('stays quiet about intermediate steps', () => {
    for (const s of ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED'] as const) expect(describeChange(s, 'ord_1', null)).toBeNull();
  });
  it('one notification id per event id', () => {
    expect(notificationIdFor('e1')).toBe(notificationIdFor('e1'));
    expect(notificationIdFor('e1')).not.toBe(notificationIdFor('e2'));
    expect(notificationIdFor('e1')).toMatch(NOTIFICATION_ID);
  });
});
