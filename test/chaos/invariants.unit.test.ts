// Unit tests of the pure invariant checks (no system needed; fast).
import { describe, expect, it } from 'vitest';
import {
  checkAcceptedOrdersFinal,
  checkConfirmedHaveReservationAndPayment,
  checkDeadLetters,
  checkHistories,
  checkNoDuplicateOrders,
  checkPlaceAnswers,
  checkRssBound,
  checkStockConservation,
  checkStockNeverNegative,
  checkSubscriber,
  checkSubscribers,
  confirmedUnitsByProduct,
  countLostOrders,
  parseVmRssKb,
  percentile,
  type HistoryEntry,
  type PlacedOrder,
  type ServerOrder,
  type SubscriberRecord,
} from './invariants.js';

const chain = (...statuses: string[]): HistoryEntry[] =>
  statuses.map((status, i) => ({ sequence: i + 1, status, previous: i === 0 ? null : statuses[i - 1]!, reason: null }));

const order = (id: string, ...statuses: string[]): ServerOrder => ({ id, customerId: 'alice', status: statuses.at(-1)!, history: chain(...statuses) });

const HAPPY = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED'];

const placed = (over: Partial<PlacedOrder> = {}): PlacedOrder => ({
  idempotencyKey: 'k1',
  customer: 'alice',
  lines: [{ productId: 'prd_a', quantity: 2 }],
  paymentToken: 'tok_visa',
  placedAt: 0,
  attempts: [{ gateway: 0, startedAt: 0, ms: 5, outcome: 'ok' }],
  orderId: 'ord_1',
  answeredStatus: 'PENDING',
  ...over,
});

describe('checkAcceptedOrdersFinal', () => {
  it('passes when every accepted order is final', () => {
    const r = checkAcceptedOrdersFinal([placed()], new Map([['ord_1', order('ord_1', ...HAPPY)]]));
    expect(r.passed).toBe(true);
    expect(r.checked).toBe(1);
  });

  it('reports a lost order and one still pending', () => {
    const r = checkAcceptedOrdersFinal(
      [placed(), placed({ idempotencyKey: 'k2', orderId: 'ord_2' })],
      new Map([['ord_2', order('ord_2', 'PENDING', 'INVENTORY_RESERVED')]]),
    );
    expect(r.passed).toBe(false);
    expect(r.violations.join('\n')).toMatch(/LOST: order ord_1/);
    expect(r.violations.join('\n')).toMatch(/NOT FINAL: order ord_2 is INVENTORY_RESERVED/);
    expect(r.notes?.lost).toBe(1);
    expect(countLostOrders([placed()], new Map())).toBe(1);
  });

  it('checks orphans: an unanswered key whose order exists must be final too', () => {
    const orphan = placed({ orderId: undefined, answeredStatus: undefined, expectedOrderId: 'ord_9', attempts: [{ gateway: 0, startedAt: 0, ms: 1, outcome: 'network' }] });
    expect(checkAcceptedOrdersFinal([orphan], new Map()).passed).toBe(true);
    expect(checkAcceptedOrdersFinal([orphan], new Map([['ord_9', order('ord_9', 'PENDING')]])).passed).toBe(false);
    expect(checkAcceptedOrdersFinal([orphan], new Map([['ord_9', order('ord_9', 'PENDING', 'REJECTED')]])).notes?.orphansFinal).toBe(1);
  });
});

describe('checkHistories', () => {
  it('accepts the three legal endings', () => {
    const r = checkHistories([order('a', ...HAPPY), order('b', 'PENDING', 'REJECTED'), order('c', 'PENDING', 'INVENTORY_RESERVED', 'CANCELLED')]);
    expect(r.violations).toEqual([]);
  });

  it('finds gaps, broken previous links, illegal transitions and a stale status', () => {
    const gap: ServerOrder = { id: 'g', customerId: 'x', status: 'CONFIRMED', history: [chain(...HAPPY)[0]!, { ...chain(...HAPPY)[2]!, sequence: 3 }] };
    const illegal = order('i', 'PENDING', 'CONFIRMED');
    const stale: ServerOrder = { ...order('s', 'PENDING', 'REJECTED'), status: 'PENDING' };
    const r = checkHistories([gap, illegal, stale]);
    const text = r.violations.join('\n');
    expect(text).toMatch(/order g: history\[1\] has sequence 3/);
    expect(text).toMatch(/order g: seq 3 previous=INVENTORY_RESERVED, expected PENDING/);
    expect(text).toMatch(/illegal transition PENDING -> CONFIRMED/);
    expect(text).toMatch(/order s: status PENDING but last history entry is REJECTED/);
  });
});

describe('checkConfirmedHaveReservationAndPayment', () => {
  it('requires both before CONFIRMED, reservation first', () => {
    expect(checkConfirmedHaveReservationAndPayment([order('a', ...HAPPY)]).passed).toBe(true);
    const noPay = order('b', 'PENDING', 'INVENTORY_RESERVED', 'CONFIRMED');
    const swapped = order('c', 'PENDING', 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED', 'CONFIRMED');
    const r = checkConfirmedHaveReservationAndPayment([noPay, swapped, order('d', 'PENDING', 'REJECTED')]);
    expect(r.checked).toBe(2);
    expect(r.violations).toEqual(['order b: CONFIRMED without PAYMENT_AUTHORIZED before it', 'order c: PAYMENT_AUTHORIZED before INVENTORY_RESERVED']);
  });
});

describe('checkNoDuplicateOrders and checkPlaceAnswers', () => {
  it('flags an order no client placed and a key answered with two orders', () => {
    const a = placed();
    const b = placed({ orderId: 'ord_2' });
    const r = checkNoDuplicateOrders([a, b], ['ord_1', 'ord_2', 'ord_x']);
    expect(r.violations).toEqual(['order ord_x exists but no client placed it (a duplicate from a retry?)', 'key k1 answered with two orders: ord_1 and ord_2']);
  });

  it('a first answer says PENDING; a retried one may be later but must be in the history', () => {
    const server = new Map([['ord_1', order('ord_1', ...HAPPY)]]);
    expect(checkPlaceAnswers([placed()], server).passed).toBe(true);
    expect(checkPlaceAnswers([placed({ answeredStatus: 'CONFIRMED' })], server).passed).toBe(false);
    const retried = placed({
      answeredStatus: 'INVENTORY_RESERVED',
      attempts: [
        { gateway: 0, startedAt: 0, ms: 1, outcome: 'network' },
        { gateway: 1, startedAt: 1, ms: 1, outcome: 'ok' },
      ],
    });
    expect(checkPlaceAnswers([retried], server).passed).toBe(true);
  });
});

describe('stock', () => {
  const s = (available: number, reserved: number, sold: number) => ({ available, reserved, sold });

  it('conserves initial + restocks, at rest nothing reserved, sold = confirmed units', () => {
    const ok = { productId: 'p', initial: s(10, 0, 0), restocked: 5, final: s(12, 0, 3) };
    expect(checkStockConservation([ok], { atRest: true, confirmedUnits: new Map([['p', 3]]) }).violations).toEqual([]);
    const leaked = { productId: 'q', initial: s(10, 0, 0), restocked: 0, final: s(7, 1, 2) };
    const r = checkStockConservation([leaked], { atRest: true, confirmedUnits: new Map([['q', 3]]) });
    expect(r.violations).toEqual(['product q: 1 reserved at rest (was 0 before the run)', 'product q: sold grew by 2, confirmed orders hold 3 units']);
    const lost = checkStockConservation([{ productId: 'r', initial: s(10, 0, 0), restocked: 0, final: s(9, 0, 0) }]);
    expect(lost.violations[0]).toMatch(/initial 10 \+ restocked 0 = 10, but .* = 9/);
  });

  it('never negative', () => {
    expect(checkStockNeverNegative([{ at: 0, productId: 'p', stock: s(0, 0, 1) }]).passed).toBe(true);
    expect(checkStockNeverNegative([{ at: 0, productId: 'p', stock: s(-1, 0, 1) }]).violations[0]).toMatch(/available = -1/);
  });

  it('sums confirmed units by product', () => {
    const lines = new Map([
      ['a', [{ productId: 'p', quantity: 2 }]],
      ['b', [{ productId: 'p', quantity: 1 }, { productId: 'q', quantity: 4 }]],
      ['c', [{ productId: 'p', quantity: 9 }]],
    ]);
    const units = confirmedUnitsByProduct([order('a', ...HAPPY), order('b', ...HAPPY), order('c', 'PENDING', 'REJECTED')], (id) => lines.get(id));
    expect([...units]).toEqual([
      ['p', 3],
      ['q', 4],
    ]);
  });
});

describe('checkSubscriber', () => {
  const ev = (sequence: number, status: string, previous: string | null) => ({ sequence, status, previous, receivedAt: 0 });
  const full = order('ord_1', ...HAPPY);
  const sub = (...segments: { after: number; events: ReturnType<typeof ev>[] }[]): SubscriberRecord => ({
    subscriberId: 's1',
    orderId: 'ord_1',
    customer: 'alice',
    segments: segments.map((seg) => ({ gateway: 0, startedAt: 0, ...seg })),
  });

  it('accepts one complete segment and a clean resume with after', () => {
    expect(checkSubscriber(sub({ after: 0, events: [ev(1, 'PENDING', null), ev(2, 'INVENTORY_RESERVED', 'PENDING'), ev(3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), ev(4, 'CONFIRMED', 'PAYMENT_AUTHORIZED')] }), full)).toEqual([]);
    const resumed = sub(
      { after: 0, events: [ev(1, 'PENDING', null), ev(2, 'INVENTORY_RESERVED', 'PENDING')] },
      { after: 2, events: [] },
      { after: 2, events: [ev(3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), ev(4, 'CONFIRMED', 'PAYMENT_AUTHORIZED')] },
    );
    expect(checkSubscriber(resumed, full)).toEqual([]);
    expect(checkSubscribers([resumed], new Map([['ord_1', full]])).notes).toEqual({ resumes: 2, events: 4 });
  });

  it('reports a duplicate after resume, a gap, a wrong after, a mismatch and an incomplete stream', () => {
    const dup = sub({ after: 0, events: [ev(1, 'PENDING', null), ev(2, 'INVENTORY_RESERVED', 'PENDING')] }, { after: 2, events: [ev(2, 'INVENTORY_RESERVED', 'PENDING'), ev(3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), ev(4, 'CONFIRMED', 'PAYMENT_AUTHORIZED')] });
    expect(checkSubscriber(dup, full)).toEqual(['subscriber s1 of ord_1: DUPLICATE seq 2 (segment 1, event 0)']);
    const gap = sub({ after: 0, events: [ev(1, 'PENDING', null), ev(3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), ev(4, 'CONFIRMED', 'PAYMENT_AUTHORIZED')] });
    expect(checkSubscriber(gap, full)).toEqual(['subscriber s1 of ord_1: GAP: seq 3 after 1, missing 2..2 (segment 0)']);
    const wrongAfter = sub({ after: 0, events: [ev(1, 'PENDING', null)] }, { after: 0, events: [ev(2, 'INVENTORY_RESERVED', 'PENDING'), ev(3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), ev(4, 'CONFIRMED', 'PAYMENT_AUTHORIZED')] });
    expect(checkSubscriber(wrongAfter, full)).toEqual(['subscriber s1 of ord_1: segment 1 resumed with after=0, last seen was 1']);
    const mismatch = sub({ after: 0, events: [ev(1, 'PENDING', null), ev(2, 'REJECTED', 'PENDING')] });
    const text = checkSubscriber(mismatch, full).join('\n');
    expect(text).toMatch(/seq 2 said PENDING->REJECTED, history says PENDING->INVENTORY_RESERVED/);
    expect(text).toMatch(/INCOMPLETE: saw up to seq 2 of 4/);
    const outOfOrder = sub({ after: 0, events: [ev(2, 'INVENTORY_RESERVED', 'PENDING'), ev(1, 'PENDING', null)] });
    expect(checkSubscriber(outOfOrder, order('ord_1', 'PENDING', 'INVENTORY_RESERVED')).join('\n')).toMatch(/GAP: seq 2 after 0[\s\S]*OUT OF ORDER seq 1 after 2/);
  });
});

describe('checkDeadLetters', () => {
  const b = (s: string) => new TextEncoder().encode(s);
  const injected = [
    { topic: 'shop.orders', label: 'not json', value: b('{oops') },
    { topic: 'shop.orders', label: 'unknown type', value: b('{"type":"Nope"}') },
    { topic: 'shop.payments', label: 'tombstone', value: null },
  ];
  const letter = (sourceTopic: string, consumerGroup: string, value: Uint8Array | null) => ({ dlqTopic: `${sourceTopic}.dlq`, sourceTopic, consumerGroup, value });

  it('passes when each poison was dead-lettered by every group, counting duplicates', () => {
    const letters = [
      letter('shop.orders', 'g1', b('{oops')),
      letter('shop.orders', 'g2', b('{oops')),
      letter('shop.orders', 'g1', b('{"type":"Nope"}')),
      letter('shop.orders', 'g2', b('{"type":"Nope"}')),
      letter('shop.orders', 'g2', b('{"type":"Nope"}')),
      letter('shop.payments', 'g3', null),
    ];
    const r = checkDeadLetters(injected, letters, ['shop.orders', 'shop.payments', 'shop.inventory']);
    expect(r.violations).toEqual([]);
    expect(r.notes?.duplicateDeadLetters).toBe(1);
  });

  it('reports a missing poison, a group that skipped one, and an unexpected dead letter', () => {
    const letters = [letter('shop.orders', 'g1', b('{oops')), letter('shop.orders', 'g2', b('{oops')), letter('shop.orders', 'g1', b('{"type":"Nope"}')), letter('shop.inventory', 'g4', b('{"id":"real"}'))];
    const text = checkDeadLetters(injected, letters).violations.join('\n');
    expect(text).toMatch(/shop.inventory.dlq: unexpected dead letter from group g4/);
    expect(text).toMatch(/shop.orders: poison "unknown type" was not dead-lettered by group g2/);
    expect(text).toMatch(/shop.payments: poison "tombstone" <tombstone> is in no dead-letter topic/);
  });

  it('a poison whose header claims a known type is owed a dead letter by one group at least, not by every group', () => {
    const claimed = [...injected.slice(0, 1), { topic: 'shop.orders', label: 'headers lie', value: b('garbage'), claimedType: 'OrderPlaced' }];
    const byOne = [letter('shop.orders', 'g1', b('{oops')), letter('shop.orders', 'g2', b('{oops')), letter('shop.orders', 'g1', b('garbage'))];
    expect(checkDeadLetters(claimed, byOne).violations).toEqual([]);
    const byNone = byOne.slice(0, 2);
    expect(checkDeadLetters(claimed, byNone).violations.join('\n')).toMatch(/poison "headers lie" .* is in no dead-letter topic/);
  });
});

describe('figures', () => {
  it('percentile is nearest-rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('parses VmRSS and bounds RSS peak and growth', () => {
    expect(parseVmRssKb('Name:\tnode\nVmRSS:\t  123456 kB\nVmSwap: 0 kB\n')).toBe(123456);
    expect(parseVmRssKb('Name: x')).toBeUndefined();
    const flat = { process: 'a', samples: Array.from({ length: 9 }, (_, i) => [i, 100_000] as const) };
    const leaking = { process: 'b', samples: Array.from({ length: 9 }, (_, i) => [i, 100_000 + i * 50_000] as const) };
    const r = checkRssBound([flat, leaking], { maxKb: 400_000, growthFactor: 1.5, slackKb: 50_000 });
    expect(r.violations).toEqual(['b: RSS peaked at 488 MB > 391 MB', 'b: RSS grew from 146 MB to 439 MB (bound ×1.5 + 49 MB)']);
  });
});
