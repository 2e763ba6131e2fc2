// Pure invariant checks over what the chaos clients recorded and what was read back afterwards
// (through the API, Redis and Kafka). No I/O here: every function takes plain data and returns an
// `InvariantResult` naming each violation precisely, so a failed run says what went wrong, to which order.

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['CONFIRMED', 'REJECTED', 'CANCELLED']);
export const isFinalStatus = (status: string | undefined | null): boolean => !!status && FINAL_STATUSES.has(status);

/** The order state machine as docs/architecture.md describes it (previous → allowed next). */
export const ALLOWED_TRANSITIONS: Readonly<Record<string, readonly string[]>> = {
  PENDING: ['INVENTORY_RESERVED', 'REJECTED', 'CANCELLED'],
  INVENTORY_RESERVED: ['PAYMENT_AUTHORIZED', 'CANCELLED'],
  PAYMENT_AUTHORIZED: ['CONFIRMED', 'CANCELLED'],
  CONFIRMED: [],
  REJECTED: [],
  CANCELLED: [],
};

export interface InvariantResult {
  readonly name: string;
  readonly passed: boolean;
  /** How many items (orders, products, subscribers, records) the check looked at. */
  readonly checked: number;
  /** One line per violation (capped in reports, complete here). */
  readonly violations: string[];
  /** Counts worth reporting that are not violations (e.g. resumes, duplicate dead letters). */
  readonly notes?: Record<string, number>;
}

function result(name: string, checked: number, violations: string[], notes?: Record<string, number>): InvariantResult {
  return { name, passed: violations.length === 0, checked, violations, ...(notes ? { notes } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Recorded data
// ---------------------------------------------------------------------------------------------

export interface OrderLine {
  readonly productId: string;
  readonly quantity: number;
}

/** One HTTP attempt of a placeOrder (the client retries across gateways with the same idempotency key). */
export interface PlaceAttempt {
  readonly gateway: number;
  readonly startedAt: number;
  readonly ms: number;
  /** ok: an order came back; network: no HTTP answer; http: status >= 500 or not JSON; graphql: errors with a code. */
  readonly outcome: 'ok' | 'network' | 'http' | 'graphql';
  readonly httpStatus?: number;
  readonly code?: string;
  readonly message?: string;
}

/** Everything one client was told about one placeOrder. */
export interface PlacedOrder {
  readonly idempotencyKey: string;
  readonly customer: string;
  readonly lines: readonly OrderLine[];
  readonly paymentToken: string;
  readonly placedAt: number;
  attempts: PlaceAttempt[];
  /** Set once an attempt returned an order: the client was told "accepted". */
  orderId?: string;
  /** Status in the accepted answer (PENDING on a first answer; a retry may see a later one). */
  answeredStatus?: string;
  acceptedAt?: number;
  /** The order id the idempotency key maps to, known even when no answer arrived (to look for orphans). */
  expectedOrderId?: string;
  /** A definitive refusal (e.g. BAD_USER_INPUT): not retried, not an order. */
  refusedWith?: string;
  /** The client also asked to cancel it (cancelOrder), and what it was told. */
  cancelAnswer?: string;
}

export interface ObservedChange {
  readonly sequence: number;
  readonly status: string;
  readonly previous: string | null;
  readonly receivedAt: number;
  /** The change's own time (`at`, set by the orders service), ms since the epoch. */
  readonly at?: number;
}

/** One subscribe call of a subscriber: `after` it asked for, what arrived, and how it ended. */
export interface SubscriptionSegment {
  readonly gateway: number;
  readonly after: number;
  readonly startedAt: number;
  events: ObservedChange[];
  endedAt?: number;
  /** final: saw a final status; error/complete: the server or the socket ended it early; dropped: we cut it on purpose; timeout. */
  end?: 'final' | 'error' | 'complete' | 'dropped' | 'timeout' | 'stopped';
  error?: string;
}

/** A client watching one order with `orderStatusChanged`, resuming with `after` whenever a segment ends early. */
export interface SubscriberRecord {
  readonly subscriberId: string;
  readonly orderId: string;
  readonly customer: string;
  segments: SubscriptionSegment[];
}

export interface HistoryEntry {
  readonly sequence: number;
  readonly status: string;
  readonly previous: string | null;
  readonly reason?: string | null;
}

/** An order as read back through the API (as an admin) after the run. */
export interface ServerOrder {
  readonly id: string;
  readonly customerId: string;
  readonly status: string;
  readonly history: readonly HistoryEntry[];
  readonly lines?: readonly OrderLine[];
}

export interface StockLevels {
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
}

export interface ProductStockRecord {
  readonly productId: string;
  readonly initial: StockLevels;
  /** Units added by `restock` during the run (what the admin client was told succeeded). */
  readonly restocked: number;
  readonly final: StockLevels;
}

export interface StockSample {
  readonly at: number;
  readonly productId: string;
  readonly stock: StockLevels;
}

/** A record written straight to a topic to poison its consumers. `value` null is a tombstone. */
export interface InjectedPoison {
  readonly topic: string;
  readonly label: string;
  readonly value: Uint8Array | null;
  /**
   * The type its `x-event-type` header claims. Consumers skip, unparsed, records of types they do not
   * handle, so such a record is owed a dead letter by the groups that handle that type, not by every group.
   */
  readonly claimedType?: string;
}

/** A record read back from `<topic>.dlq`. */
export interface DeadLetterRecord {
  readonly dlqTopic: string;
  readonly sourceTopic: string;
  readonly consumerGroup: string;
  readonly value: Uint8Array | null;
  readonly error?: string;
  readonly partition?: number;
  readonly offset?: string;
}

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/**
 * Every order a client was told was accepted exists and is in a final state; so is every order that
 * exists for a key whose answer never arrived (an orphan the client could not know about).
 */
export function checkAcceptedOrdersFinal(placed: readonly PlacedOrder[], server: ReadonlyMap<string, ServerOrder | null>): InvariantResult {
  const violations: string[] = [];
  let checked = 0;
  let lost = 0;
  let orphansFinal = 0;
  for (const p of placed) {
    if (p.orderId) {
      checked++;
      const o = server.get(p.orderId);
      if (!o) {
        lost++;
        violations.push(`LOST: order ${p.orderId} (key ${p.idempotencyKey}, customer ${p.customer}) was accepted but does not exist`);
      } else if (!isFinalStatus(o.status)) {
        violations.push(`NOT FINAL: order ${p.orderId} is ${o.status} (history ${o.history.map((h) => h.status).join('>')})`);
      } else if (o.customerId !== p.customer) {
        violations.push(`WRONG OWNER: order ${p.orderId} belongs to ${o.customerId}, placed by ${p.customer}`);
      }
    } else if (p.expectedOrderId && !p.refusedWith) {
      const o = server.get(p.expectedOrderId);
      if (o) {
        checked++;
        if (!isFinalStatus(o.status)) violations.push(`NOT FINAL: unanswered order ${o.id} (key ${p.idempotencyKey}) is ${o.status}`);
        else orphansFinal++;
      }
    }
  }
  return result('every accepted order reached a final state', checked, violations, { lost, orphansFinal });
}

/** Orders lost: accepted (told to the client) but missing on the server. */
export function countLostOrders(placed: readonly PlacedOrder[], server: ReadonlyMap<string, ServerOrder | null>): number {
  return placed.filter((p) => p.orderId && !server.get(p.orderId)).length;
}

/**
 * Each history is 1..n without gaps, starts PENDING with no previous, chains `previous` to the
 * status before it, follows the state machine, ends in the order's current status, and has a final
 * status only as its last entry.
 */
export function checkHistories(orders: Iterable<ServerOrder>): InvariantResult {
  const violations: string[] = [];
  let checked = 0;
  for (const o of orders) {
    checked++;
    const h = o.history;
    if (h.length === 0) {
      violations.push(`order ${o.id}: empty history`);
      continue;
    }
    h.forEach((e, i) => {
      if (e.sequence !== i + 1) violations.push(`order ${o.id}: history[${i}] has sequence ${e.sequence}, expected ${i + 1}`);
      const prev = i === 0 ? null : h[i - 1]!.status;
      if (e.previous !== prev) violations.push(`order ${o.id}: seq ${e.sequence} previous=${e.previous}, expected ${prev}`);
      if (i === 0 && e.status !== 'PENDING') violations.push(`order ${o.id}: first status ${e.status}, expected PENDING`);
      if (prev !== null && !(ALLOWED_TRANSITIONS[prev] ?? []).includes(e.status)) {
        violations.push(`order ${o.id}: illegal transition ${prev} -> ${e.status} at seq ${e.sequence}`);
      }
    });
    const last = h.at(-1)!;
    if (last.status !== o.status) violations.push(`order ${o.id}: status ${o.status} but last history entry is ${last.status}`);
  }
  return result('order histories are gap-free and follow the state machine', checked, violations);
}

/** No order is CONFIRMED without INVENTORY_RESERVED and PAYMENT_AUTHORIZED before the confirmation. */
export function checkConfirmedHaveReservationAndPayment(orders: Iterable<ServerOrder>): InvariantResult {
  const violations: string[] = [];
  let checked = 0;
  for (const o of orders) {
    const at = o.history.findIndex((h) => h.status === 'CONFIRMED');
    if (at < 0 && o.status !== 'CONFIRMED') continue;
    checked++;
    const before = at < 0 ? o.history : o.history.slice(0, at);
    const reserved = before.findIndex((h) => h.status === 'INVENTORY_RESERVED');
    const paid = before.findIndex((h) => h.status === 'PAYMENT_AUTHORIZED');
    if (at < 0) violations.push(`order ${o.id}: status CONFIRMED but no CONFIRMED entry in its history`);
    if (reserved < 0) violations.push(`order ${o.id}: CONFIRMED without INVENTORY_RESERVED before it`);
    if (paid < 0) violations.push(`order ${o.id}: CONFIRMED without PAYMENT_AUTHORIZED before it`);
    if (reserved >= 0 && paid >= 0 && paid < reserved) violations.push(`order ${o.id}: PAYMENT_AUTHORIZED before INVENTORY_RESERVED`);
  }
  return result('no order confirmed without a reservation and a payment authorization', checked, violations);
}

/**
 * The server holds exactly one order per accepted idempotency key for the run's customers: retries
 * across gateways never made a second one, and no order appeared that no client asked for.
 */
export function checkNoDuplicateOrders(placed: readonly PlacedOrder[], serverOrderIdsOfCustomers: readonly string[]): InvariantResult {
  const violations: string[] = [];
  const known = new Set<string>();
  for (const p of placed) {
    if (p.orderId) known.add(p.orderId);
    // A refused order (BAD_USER_INPUT…) must not exist: its id is not "known".
    if (p.expectedOrderId && !p.refusedWith) known.add(p.expectedOrderId);
  }
  const seen = new Set<string>();
  for (const id of serverOrderIdsOfCustomers) {
    if (seen.has(id)) violations.push(`order ${id} listed twice`);
    seen.add(id);
    if (!known.has(id)) violations.push(`order ${id} exists but no client placed it (a duplicate from a retry?)`);
  }
  const byKey = new Map<string, string>();
  for (const p of placed) {
    if (!p.orderId) continue;
    const other = byKey.get(p.idempotencyKey);
    if (other && other !== p.orderId) violations.push(`key ${p.idempotencyKey} answered with two orders: ${other} and ${p.orderId}`);
    byKey.set(p.idempotencyKey, p.orderId);
  }
  return result('one order per idempotency key, none unasked for', seen.size, violations);
}

/** The answer of every accepted placeOrder agrees with the order's history (a first answer says PENDING). */
export function checkPlaceAnswers(placed: readonly PlacedOrder[], server: ReadonlyMap<string, ServerOrder | null>): InvariantResult {
  const violations: string[] = [];
  let checked = 0;
  for (const p of placed) {
    if (!p.orderId || !p.answeredStatus) continue;
    const o = server.get(p.orderId);
    if (!o) continue; // reported as lost elsewhere
    checked++;
    const okAttempts = p.attempts.filter((a) => a.outcome === 'ok').length;
    const firstTry = p.attempts.length === 1 && okAttempts === 1;
    if (firstTry && p.answeredStatus !== 'PENDING') violations.push(`order ${o.id}: first answer said ${p.answeredStatus}, expected PENDING`);
    if (!o.history.some((h) => h.status === p.answeredStatus)) {
      violations.push(`order ${o.id}: answered ${p.answeredStatus}, which is not in its history`);
    }
  }
  return result('placeOrder answers agree with the order history', checked, violations);
}

// ---------------------------------------------------------------------------------------------
// Stock
// ---------------------------------------------------------------------------------------------

const total = (s: StockLevels) => s.available + s.reserved + s.sold;

/**
 * Stock is conserved per product: initial + restocks = available + reserved + sold. When every order
 * is final (`atRest`), nothing is left reserved. When `confirmedUnits` is given (units of this run's
 * CONFIRMED orders per product), sold grew by exactly that many.
 */
export function checkStockConservation(
  products: readonly ProductStockRecord[],
  opts: { atRest?: boolean; confirmedUnits?: ReadonlyMap<string, number> } = {},
): InvariantResult {
  const violations: string[] = [];
  for (const p of products) {
    const expected = total(p.initial) + p.restocked;
    const actual = total(p.final);
    if (actual !== expected) {
      violations.push(
        `product ${p.productId}: initial ${total(p.initial)} + restocked ${p.restocked} = ${expected}, but available ${p.final.available} + reserved ${p.final.reserved} + sold ${p.final.sold} = ${actual}`,
      );
    }
    for (const k of ['available', 'reserved', 'sold'] as const) {
      if (p.final[k] < 0) violations.push(`product ${p.productId}: final ${k} is negative (${p.final[k]})`);
    }
    if (opts.atRest && p.final.reserved !== p.initial.reserved) {
      violations.push(`product ${p.productId}: ${p.final.reserved} reserved at rest (was ${p.initial.reserved} before the run)`);
    }
    if (opts.confirmedUnits) {
      const confirmed = opts.confirmedUnits.get(p.productId) ?? 0;
      const soldDelta = p.final.sold - p.initial.sold;
      if (soldDelta !== confirmed) violations.push(`product ${p.productId}: sold grew by ${soldDelta}, confirmed orders hold ${confirmed} units`);
    }
  }
  return result('stock conserved per product (initial + restocks = available + reserved + sold)', products.length, violations);
}

/** No stock figure read during the run was negative. */
export function checkStockNeverNegative(samples: readonly StockSample[]): InvariantResult {
  const violations: string[] = [];
  for (const s of samples) {
    for (const k of ['available', 'reserved', 'sold'] as const) {
      if (s.stock[k] < 0) violations.push(`product ${s.productId}: ${k} = ${s.stock[k]} at ${new Date(s.at).toISOString()}`);
    }
  }
  return result('stock never negative (sampled during the run)', samples.length, violations);
}

/** Units per product of the given orders that ended CONFIRMED. */
export function confirmedUnitsByProduct(orders: Iterable<ServerOrder>, linesOf: (orderId: string) => readonly OrderLine[] | undefined): Map<string, number> {
  const units = new Map<string, number>();
  for (const o of orders) {
    if (o.status !== 'CONFIRMED') continue;
    for (const l of o.lines ?? linesOf(o.id) ?? []) units.set(l.productId, (units.get(l.productId) ?? 0) + l.quantity);
  }
  return units;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

/**
 * What one subscriber saw of its order, over every segment: in order, starting at 1, no gap, no
 * duplicate (in particular none across a resume with `after`), each change matching the order's
 * history, and, when the order is final, up to its last change. A segment resumed with `after: n`
 * must start at n+1 and n must be the last sequence seen before it.
 */
export function checkSubscriber(sub: SubscriberRecord, order: ServerOrder | null | undefined): string[] {
  const v: string[] = [];
  const who = `subscriber ${sub.subscriberId} of ${sub.orderId}`;
  let last = 0;
  const seen = new Set<number>();
  sub.segments.forEach((seg, i) => {
    if (seg.after !== last) v.push(`${who}: segment ${i} resumed with after=${seg.after}, last seen was ${last}`);
    seg.events.forEach((e, j) => {
      // A resumed segment must go on at after+1: a replay from the start shows up as DUPLICATE, a skip as GAP.
      if (seen.has(e.sequence)) v.push(`${who}: DUPLICATE seq ${e.sequence} (segment ${i}, event ${j})`);
      else if (e.sequence < last) v.push(`${who}: OUT OF ORDER seq ${e.sequence} after ${last} (segment ${i})`);
      else if (e.sequence > last + 1) v.push(`${who}: GAP: seq ${e.sequence} after ${last}, missing ${last + 1}..${e.sequence - 1} (segment ${i})`);
      seen.add(e.sequence);
      last = Math.max(last, e.sequence);
      const h = order?.history[e.sequence - 1];
      if (order && !h) v.push(`${who}: saw seq ${e.sequence} (${e.status}) which the history does not have`);
      else if (h && (h.status !== e.status || h.previous !== e.previous)) {
        v.push(`${who}: seq ${e.sequence} said ${e.previous}->${e.status}, history says ${h.previous}->${h.status}`);
      }
    });
  });
  if (order && isFinalStatus(order.status) && last < order.history.length) {
    const end = sub.segments.at(-1);
    v.push(`${who}: INCOMPLETE: saw up to seq ${last} of ${order.history.length} (last segment ended: ${end?.end ?? 'never'}${end?.error ? `: ${end.error}` : ''})`);
  }
  return v;
}

export function checkSubscribers(subs: readonly SubscriberRecord[], server: ReadonlyMap<string, ServerOrder | null>): InvariantResult {
  const violations: string[] = [];
  let resumes = 0;
  let events = 0;
  for (const s of subs) {
    violations.push(...checkSubscriber(s, server.get(s.orderId)));
    resumes += Math.max(0, s.segments.length - 1);
    events += s.segments.reduce((n, seg) => n + seg.events.length, 0);
  }
  return result('every subscriber saw its order changes in order, none missing, none twice (across resumes)', subs.length, violations, {
    resumes,
    events,
  });
}

// ---------------------------------------------------------------------------------------------
// Dead letters
// ---------------------------------------------------------------------------------------------

const keyOf = (value: Uint8Array | null): string => (value === null ? '<tombstone>' : Buffer.from(value).toString('base64'));
const preview = (value: Uint8Array | null): string => {
  if (value === null) return '<tombstone>';
  const text = Buffer.from(value).toString('utf8');
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…(${value.byteLength} bytes)` : text);
};

/**
 * Dead-letter topics hold exactly the poison injected: per source topic, the distinct values in
 * `<topic>.dlq` equal the injected ones (bytes compared), and each poison was dead-lettered by every
 * consumer group that dead-lettered any poison of that topic (each group meets every record). A group
 * dead-lettering the same poison twice (redelivery after a crash) is counted, not failed.
 */
export function checkDeadLetters(injected: readonly InjectedPoison[], letters: readonly DeadLetterRecord[], topics?: readonly string[]): InvariantResult {
  const violations: string[] = [];
  const notes: Record<string, number> = { deadLetters: letters.length, injected: injected.length, duplicateDeadLetters: 0 };
  const allTopics = new Set([...(topics ?? []), ...injected.map((p) => p.topic), ...letters.map((l) => l.sourceTopic)]);
  for (const topic of [...allTopics].sort()) {
    const poison = new Map<string, InjectedPoison>();
    for (const p of injected.filter((x) => x.topic === topic)) poison.set(keyOf(p.value), p);
    const mine = letters.filter((l) => l.sourceTopic === topic);
    const groupsByValue = new Map<string, string[]>();
    for (const l of mine) {
      const k = keyOf(l.value);
      if (!poison.has(k)) {
        violations.push(`${topic}.dlq: unexpected dead letter from group ${l.consumerGroup} at ${l.partition ?? '?'}:${l.offset ?? '?'}: ${preview(l.value)} (${l.error ?? 'no error header'})`);
        continue;
      }
      const groups = groupsByValue.get(k) ?? [];
      groups.push(l.consumerGroup);
      groupsByValue.set(k, groups);
    }
    const allGroups = new Set([...groupsByValue.values()].flat());
    for (const [k, p] of poison) {
      const groups = groupsByValue.get(k);
      if (!groups) {
        violations.push(`${topic}: poison "${p.label}" ${preview(p.value)} is in no dead-letter topic`);
        continue;
      }
      const distinct = new Set(groups);
      notes.duplicateDeadLetters! += groups.length - distinct.size;
      if (p.claimedType !== undefined) continue;
      for (const g of allGroups) if (!distinct.has(g)) violations.push(`${topic}: poison "${p.label}" was not dead-lettered by group ${g}`);
    }
  }
  return result('dead-letter topics hold exactly the poison injected', injected.length, violations, notes);
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface RssSeries {
  readonly process: string;
  /** [ms since start, kB] */
  readonly samples: readonly (readonly [number, number])[];
}

/**
 * Memory stays within a bound: no sample above `maxKb`, and the late level (median of the last third)
 * is at most `growthFactor` × the early level (median of the first third, after warm-up) plus `slackKb`.
 */
export function checkRssBound(series: readonly RssSeries[], bound: { maxKb: number; growthFactor: number; slackKb: number }): InvariantResult {
  const violations: string[] = [];
  const median = (xs: number[]) => percentile(xs, 50);
  for (const s of series) {
    const kb = s.samples.map(([, v]) => v);
    if (kb.length === 0) continue;
    const peak = Math.max(...kb);
    if (peak > bound.maxKb) violations.push(`${s.process}: RSS peaked at ${Math.round(peak / 1024)} MB > ${Math.round(bound.maxKb / 1024)} MB`);
    if (kb.length >= 6) {
      const third = Math.floor(kb.length / 3);
      const early = median(kb.slice(0, third));
      const late = median(kb.slice(-third));
      if (late > early * bound.growthFactor + bound.slackKb) {
        violations.push(`${s.process}: RSS grew from ${Math.round(early / 1024)} MB to ${Math.round(late / 1024)} MB (bound ×${bound.growthFactor} + ${Math.round(bound.slackKb / 1024)} MB)`);
      }
    }
  }
  return result('process memory (RSS) stays within its bound', series.length, violations);
}

/** Parses `VmRSS:   123456 kB` out of /proc/<pid>/status text; undefined when absent. */
export function parseVmRssKb(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : undefined;
}
