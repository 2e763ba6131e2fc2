// The order driver: N orders per second through both gateways, each watched by a subscriber (some by
// two, on different gateways), with a mix that reaches every ending of the saga: approved, declined,
// no payment answer (deadline), cancelled by the customer, rejected for stock, refused (unknown product).
import type { ChaosHarness, ProductInfo, Subscriber } from './harness.js';
import { sleep } from './harness.js';
import type { OrderLine, PlacedOrder } from './invariants.js';

export type OrderKind = 'visa' | 'declined' | 'timeout' | 'cancel' | 'too-many' | 'unknown-product';

export interface DriverOptions {
  readonly rate: number;
  readonly customers: readonly { name: string; token: string }[];
  /** Products ordinary orders pick from. */
  readonly products: readonly ProductInfo[];
  /** A product orders ask 1000 of (expected REJECTED); none when absent. */
  readonly scarce?: ProductInfo;
  /** false: every order approved with one line of one unit (the soak). */
  readonly mix: boolean;
  /** Every k-th order gets a second subscriber on the other gateway; 0 = never. */
  readonly secondSubscriberEvery: number;
  /** Placements in flight at most (beyond that a tick is skipped and counted). */
  readonly maxInflight: number;
}

/** The kind of the n-th order in the mixed load: 75% approved, the rest spread over the other endings. */
export function kindOf(n: number, mix: boolean): OrderKind {
  if (!mix) return 'visa';
  switch (n % 20) {
    case 3:
    case 13:
      return 'declined';
    case 7:
      return 'timeout';
    case 11:
      return 'cancel';
    case 15:
      return 'too-many';
    case 19:
      return 'unknown-product';
    default:
      return 'visa';
  }
}

export class OrderDriver {
  readonly records: { rec: PlacedOrder; kind: OrderKind; subscribers: Subscriber[] }[] = [];
  skippedTicks = 0;
  private n = 0;
  private inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  startedAt = 0;
  stoppedAt = 0;

  constructor(
    private readonly h: ChaosHarness,
    private readonly opts: DriverOptions,
  ) {}

  start(): void {
    this.startedAt = Date.now();
    const interval = 1000 / this.opts.rate;
    // A drift-free schedule: each tick places as many orders as the clock says are due.
    let due = 0;
    this.timer = setInterval(() => {
      const shouldHave = Math.floor(((Date.now() - this.startedAt) / 1000) * this.opts.rate);
      while (due < shouldHave) {
        due++;
        if (this.inflight.size >= this.opts.maxInflight) {
          this.skippedTicks++;
          continue;
        }
        const p = this.one(this.n++).catch((err: unknown) => {
          this.h.notes.push(`driver error: ${String(err)}`);
        });
        this.inflight.add(p);
        void p.finally(() => this.inflight.delete(p));
      }
    }, Math.max(10, Math.floor(interval / 2)));
  }

  /** Stops placing and waits for placements in flight (each bounded by its retry budget). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stoppedAt = Date.now();
    await Promise.all([...this.inflight]);
  }

  get placedCount(): number {
    return this.records.length;
  }

  private lines(n: number, kind: OrderKind): OrderLine[] {
    const ps = this.opts.products;
    const p = ps[n % ps.length]!;
    if (kind === 'unknown-product') return [{ productId: `prd_chaos-unknown-${n}`, quantity: 1 }];
    if (kind === 'too-many' && this.opts.scarce) return [{ productId: this.opts.scarce.id, quantity: 1000 }];
    if (!this.opts.mix) return [{ productId: p.id, quantity: 1 }];
    const lines: OrderLine[] = [{ productId: p.id, quantity: 1 + (n % 3) }];
    if (n % 4 === 1 && ps.length > 1) lines.push({ productId: ps[(n + 1) % ps.length]!.id, quantity: 1 });
    return lines;
  }

  private async one(n: number): Promise<void> {
    const kind = kindOf(n, this.opts.mix);
    const customer = this.opts.customers[n % this.opts.customers.length]!;
    const gateway = n % this.h.gatewayCount;
    const token = kind === 'declined' ? 'tok_declined' : kind === 'timeout' || kind === 'cancel' ? 'tok_timeout' : 'tok_visa';
    const entry = { rec: undefined as unknown as PlacedOrder, kind, subscribers: [] as Subscriber[] };
    const placing = this.h.placeOrder(customer, this.lines(n, kind), token, { gateway });
    entry.rec = await placing;
    this.records.push(entry);
    const id = entry.rec.orderId;
    if (!id) return;
    entry.subscribers.push(this.h.watch(customer, id, gateway));
    if (this.opts.secondSubscriberEvery > 0 && n % this.opts.secondSubscriberEvery === 0) {
      await sleep(150);
      entry.subscribers.push(this.h.watch(customer, id, gateway + 1));
    }
    if (kind === 'cancel') {
      await sleep(300);
      await this.h.cancelOrder(customer, entry.rec, gateway + 1);
    }
  }
}
