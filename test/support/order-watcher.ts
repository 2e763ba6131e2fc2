import type { Client } from 'graphql-ws';
import { graphql } from './clients.js';
import { FINAL_STATUSES } from './shop.js';

const WATCH = /* GraphQL */ `
  subscription Watch($orderId: ID!, $after: Int) { orderStatusChanged(orderId: $orderId, after: $after) { orderId sequence status previous } }
`;

const HISTORY = /* GraphQL */ `
  query History($id: ID!) { order(id: $id) { id status history { sequence status } } }
`;

export interface WatchedChange {
  sequence: number;
  status: string;
}

export const isFinalStatus = (status: string): boolean => (FINAL_STATUSES as readonly string[]).includes(status);

/**
 * One client's view of one order, through the gateway as the web demo watches it (`orderStatusChanged(orderId,
 * after: 0)`): everything pushed to it, when the first and last change arrived, and whether its subscription
 * ended early. Done at the order's final status, an error or the end of the stream.
 */
export class OrderWatcher {
  readonly changes: WatchedChange[] = [];
  readonly errors: string[] = [];
  firstAt = 0;
  lastAt = 0;
  ended = false;
  private settle!: () => void;
  readonly done = new Promise<void>((r) => (this.settle = r));
  private readonly unsubscribe: () => void;

  constructor(
    client: Client,
    readonly orderId: string,
  ) {
    this.unsubscribe = client.subscribe<{ orderStatusChanged: WatchedChange }>(
      { query: WATCH, variables: { orderId, after: 0 } },
      {
        next: (value) => {
          if (value.errors?.length) this.errors.push(JSON.stringify(value.errors));
          const c = value.data?.orderStatusChanged;
          if (!c) return;
          this.lastAt = Date.now();
          this.firstAt ||= this.lastAt;
          this.changes.push({ sequence: c.sequence, status: c.status });
          if (isFinalStatus(c.status)) this.finish();
        },
        error: (err) => {
          this.errors.push(err instanceof Error ? err.message : JSON.stringify(err));
          this.finish();
        },
        complete: () => this.finish(),
      },
    );
  }

  /** The last change pushed is a final status. */
  get final(): boolean {
    return isFinalStatus(this.changes.at(-1)?.status ?? '');
  }

  finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    this.settle();
  }
}

/**
 * What is wrong with each watcher's view, against its order's history as the gateway answers it now: every
 * watcher should have seen 1..n once, in order, ending with the final status, and no error. Empty when all did.
 */
export async function incompleteWatchers(watchers: readonly OrderWatcher[], gatewayUrl: string, adminToken: string): Promise<string[]> {
  const problems: string[] = [];
  for (const w of watchers) {
    const r = await graphql<{ order: { status: string; history: WatchedChange[] } | null }>(gatewayUrl, HISTORY, { id: w.orderId }, { token: adminToken });
    const history = r.data?.order?.history ?? [];
    const seen = w.changes.map((c) => `${c.sequence}:${c.status}`).join(' ');
    const expected = history.map((c) => `${c.sequence}:${c.status}`).join(' ');
    if (w.errors.length) problems.push(`${w.orderId}: errors ${w.errors.join('; ')}`);
    if (!w.final) problems.push(`${w.orderId}: no final status pushed (saw ${seen || 'nothing'}; the order is ${r.data?.order?.status})`);
    if (seen !== expected) problems.push(`${w.orderId}: pushed [${seen}], history [${expected}]`);
  }
  return problems;
}
