// The chaos harness: the whole system as separate processes (2 replicas of each subgraph, 2 gateways,
// the broker with a data directory, redis-server with AOF), real clients driving orders through BOTH
// gateways (HTTP for mutations, retried across gateways with the same idempotency key; graphql-ws
// subscriptions per order, resumed with `after` whenever they end early), a recorder of everything each
// client was told, fault injection by pid, and read-back of the final state through the API, Redis and Kafka.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import { Cluster, Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import WebSocket from 'ws';
import { ALL_TOPICS } from '@shop/events';
import { readDeadLetters } from '@shop/events/kafka';
import { orderIdForIdempotencyKey } from '../../subgraphs/orders/src/ids.js';
import { httpOk, tcpOk, waitUntil } from '../../scripts/lib/processes.js';
import { clusterInfo, clusterMasters } from '../../scripts/lib/redis-cluster.js';
import { startSystem, type TestSystem } from '../support/system.js';
import {
  isFinalStatus,
  parseVmRssKb,
  type DeadLetterRecord,
  type InjectedPoison,
  type OrderLine,
  type PlaceAttempt,
  type PlacedOrder,
  type ServerOrder,
  type StockLevels,
  type StockSample,
  type SubscriberRecord,
  type SubscriptionSegment,
} from './invariants.js';
import type { ChaosProfile } from './profile.js';
import type { FaultRecord } from './results.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Operations (only fields the orders subgraph owns, so a stopped inventory cannot fail them)
// ---------------------------------------------------------------------------------------------

export const PLACE = /* GraphQL */ `
  mutation ChaosPlace($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status customerId } } }
`;
export const CANCEL = /* GraphQL */ `
  mutation ChaosCancel($id: ID!) { cancelOrder(id: $id) { id status } }
`;
export const WATCH = /* GraphQL */ `
  subscription ChaosWatch($orderId: ID!, $after: Int) { orderStatusChanged(orderId: $orderId, after: $after) { orderId sequence status previous reason at } }
`;
export const ORDER_FULL = /* GraphQL */ `
  query ChaosOrder($id: ID!) { order(id: $id) { id customerId status lines { quantity product { id } } history { sequence status previous reason } } }
`;
export const MY_ORDERS = /* GraphQL */ `
  query ChaosMyOrders($first: Int, $after: String) { myOrders(first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }
`;
export const STOCK = /* GraphQL */ `
  query ChaosStock($first: Int, $after: String) { products(first: $first, after: $after) { edges { node { id name stock { available reserved sold } } } pageInfo { hasNextPage endCursor } } }
`;
export const RESTOCK = /* GraphQL */ `
  mutation ChaosRestock($productId: ID!, $quantity: Int!) { restock(productId: $productId, quantity: $quantity) { id stock { available reserved sold } } }
`;

/** Codes after which asking again (same idempotency key, maybe the other gateway) may work. */
const RETRIABLE_CODES = new Set(['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE', 'UNAVAILABLE', 'CONFLICT', 'RATE_LIMITED', 'DOWNSTREAM_SERVICE_ERROR', 'GATEWAY_TIMEOUT', 'TIMEOUT', 'UPSTREAM_UNAVAILABLE']);

export interface GqlAnswer<T> {
  readonly outcome: 'ok' | 'network' | 'http' | 'graphql';
  readonly httpStatus?: number;
  readonly data?: T | null;
  readonly errors?: { message: string; extensions?: { code?: string } }[];
  readonly code?: string;
  readonly message?: string;
  readonly ms: number;
}

/** One POST to a gateway; never throws (a network error or a timeout is an answer too). */
export async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token: string | undefined, timeoutMs = 10_000): Promise<GqlAnswer<T>> {
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { outcome: 'network', message: describeError(err), ms: Date.now() - started };
  }
  let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] } | undefined;
  try {
    body = (await res.json()) as typeof body;
  } catch (err) {
    return { outcome: 'http', httpStatus: res.status, message: `not JSON: ${describeError(err)}`, ms: Date.now() - started };
  }
  const ms = Date.now() - started;
  const code = body?.errors?.[0]?.extensions?.code;
  if (body?.errors?.length) {
    return { outcome: 'graphql', httpStatus: res.status, data: body.data ?? null, errors: body.errors, code: code ?? 'NO_CODE', message: body.errors[0]!.message, ms };
  }
  if (res.status >= 500 || !body?.data) return { outcome: 'http', httpStatus: res.status, message: JSON.stringify(body).slice(0, 200), ms };
  return { outcome: 'ok', httpStatus: res.status, data: body.data, ms };
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.name}: ${err.message} (${cause.message})` : `${err.name}: ${err.message}`;
  }
  if (Array.isArray(err)) return err.map(describeError).join('; ');
  if (err && typeof err === 'object') {
    const e = err as { code?: number; reason?: string; message?: string; extensions?: { code?: string } };
    if (typeof e.code === 'number') return `closed ${e.code}${e.reason ? ` ${e.reason}` : ''}`;
    if (e.message) return `${e.extensions?.code ?? ''} ${e.message}`.trim();
  }
  return String(err);
}

export const errorCodeOf = (err: unknown): string | undefined => {
  if (Array.isArray(err)) return errorCodeOf(err[0]);
  return (err as { extensions?: { code?: string } } | undefined)?.extensions?.code;
};

// ---------------------------------------------------------------------------------------------
// WebSocket clients and subscribers
// ---------------------------------------------------------------------------------------------

/** One graphql-ws client per (customer, gateway), multiplexing that customer's subscriptions, as a browser tab would. */
export class WsPool {
  private readonly live = new Map<string, Client>();
  forcedDrops = 0;

  /** `clientOptions` override the defaults (a benchmark keeps each socket open with `lazy: false`, as a browser tab does). */
  constructor(
    private readonly urls: readonly string[],
    private readonly clientOptions: Partial<ClientOptions> = {},
  ) {}

  client(customer: string, token: string, gateway: number): Client {
    const key = `${customer}@${gateway}`;
    let c = this.live.get(key);
    if (!c) {
      const created = createClient({
        url: this.urls[gateway]!.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: true,
        lazyCloseTimeout: 1_000,
        keepAlive: 5_000,
        ...this.clientOptions,
      });
      created.on('closed', () => {
        if (this.live.get(key) === created) this.live.delete(key);
      });
      this.live.set(key, created);
      c = created;
    }
    return c;
  }

  /** Cuts one connection at random (its subscribers must resume with `after`). */
  dropOne(): boolean {
    const clients = [...this.live.entries()];
    if (clients.length === 0) return false;
    const [key, c] = clients[Math.floor(Math.random() * clients.length)]!;
    this.live.delete(key);
    c.terminate();
    this.forcedDrops++;
    return true;
  }

  async disposeAll(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.all(all.map((c) => Promise.resolve(c.dispose()).catch(() => undefined)));
  }
}

interface ChangeMessage {
  orderId: string;
  sequence: number;
  status: string;
  previous: string | null;
  at?: string;
}

const FATAL_SUBSCRIPTION_CODES = new Set(['FORBIDDEN', 'UNAUTHENTICATED', 'NOT_FOUND', 'BAD_USER_INPUT']);
const MAX_SEGMENTS = 80;

/** Watches one order until it sees a final status, resuming with `after` on the other gateway whenever a segment ends early. */
export class Subscriber {
  readonly record: SubscriberRecord;
  readonly finished: Promise<void>;
  /** Time the first final status arrived. */
  finalAt?: number;
  gaveUp?: string;
  private lastSeq = 0;
  private done = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private current: { seg: SubscriptionSegment; unsubscribe: () => void; ended: boolean } | undefined;
  private resolveFinished!: () => void;

  constructor(
    private readonly pool: WsPool,
    private readonly gateways: number,
    readonly orderId: string,
    readonly customer: string,
    private readonly token: string,
    gateway: number,
    subscriberId: string,
    private readonly onChange?: (change: ChangeMessage, sub: Subscriber) => void,
  ) {
    this.record = { subscriberId, orderId, customer, segments: [] };
    this.finished = new Promise((r) => (this.resolveFinished = r));
    this.open(gateway);
  }

  get isDone(): boolean {
    return this.done || this.stopped || !!this.gaveUp;
  }

  private open(gateway: number): void {
    if (this.isDone) return;
    const seg: SubscriptionSegment = { gateway, after: this.lastSeq, startedAt: Date.now(), events: [] };
    this.record.segments.push(seg);
    const state = { seg, unsubscribe: () => {}, ended: false };
    this.current = state;
    const end = (how: NonNullable<SubscriptionSegment['end']>, error?: string) => {
      if (state.ended) return false;
      state.ended = true;
      seg.end = how;
      seg.endedAt = Date.now();
      if (error) seg.error = error;
      return true;
    };
    let fatal: string | undefined;
    state.unsubscribe = this.pool.client(this.customer, this.token, gateway).subscribe<{ orderStatusChanged: ChangeMessage }>(
      { query: WATCH, variables: { orderId: this.orderId, after: this.lastSeq } },
      {
        next: (value) => {
          if (state.ended) return;
          if (value.errors?.length) {
            seg.error = describeError(value.errors);
            const code = errorCodeOf(value.errors);
            if (code && FATAL_SUBSCRIPTION_CODES.has(code)) fatal = `${code}: ${seg.error}`;
          }
          const c = value.data?.orderStatusChanged;
          if (!c) return;
          const at = c.at ? Date.parse(c.at) : Number.NaN;
          seg.events.push({ sequence: c.sequence, status: c.status, previous: c.previous ?? null, receivedAt: Date.now(), ...(Number.isFinite(at) ? { at } : {}) });
          this.lastSeq = Math.max(this.lastSeq, c.sequence);
          this.onChange?.(c, this);
          if (isFinalStatus(c.status)) {
            end('final');
            this.done = true;
            this.finalAt ??= Date.now();
            state.unsubscribe();
            this.resolveFinished();
          }
        },
        error: (err) => {
          if (!end('error', describeError(err))) return;
          const code = errorCodeOf(err);
          this.resume(gateway, code && FATAL_SUBSCRIPTION_CODES.has(code) ? `${code}: ${describeError(err)}` : fatal);
        },
        complete: () => {
          if (!end('complete')) return;
          this.resume(gateway, fatal);
        },
      },
    );
  }

  private resume(previousGateway: number, fatal?: string): void {
    if (this.isDone) return;
    if (fatal || this.record.segments.length >= MAX_SEGMENTS) {
      this.gaveUp = fatal ?? `gave up after ${MAX_SEGMENTS} segments`;
      this.resolveFinished();
      return;
    }
    const k = this.record.segments.length;
    const delay = Math.min(2_000, 100 * 2 ** Math.min(5, k - 1)) * (0.5 + Math.random() / 2);
    this.timer = setTimeout(() => this.open((previousGateway + 1) % this.gateways), delay);
  }

  /** Stops watching (end of the run); an unfinished segment is marked `how`. */
  stop(how: 'stopped' | 'timeout' = 'stopped'): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const cur = this.current;
    if (cur && !cur.ended) {
      cur.ended = true;
      cur.seg.end = how;
      cur.seg.endedAt = Date.now();
      cur.unsubscribe();
    }
    this.resolveFinished();
  }
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

export interface ChaosHarnessOptions {
  readonly profile: ChaosProfile;
  /** Replicas per subgraph; default 2. */
  readonly replicas?: number;
  /** Gateways; default 2. */
  readonly gateways?: number;
  readonly env?: Record<string, string>;
  /** Run on a Redis Cluster started for the run (3 masters, 3 replicas) instead of one redis-server. */
  readonly redisCluster?: boolean;
}

export interface ProductInfo {
  readonly id: string;
  readonly name: string;
  readonly stock: StockLevels;
}

export class ChaosHarness {
  readonly runId = randomBytes(4).toString('hex');
  readonly placed: PlacedOrder[] = [];
  readonly subscribers: Subscriber[] = [];
  readonly stockSamples: StockSample[] = [];
  readonly faults: FaultRecord[] = [];
  readonly poison: InjectedPoison[] = [];
  readonly restocked = new Map<string, number>();
  /** Products whose restock answer was lost (conservation cannot be exact for them). */
  readonly uncertainRestocks = new Set<string>();
  readonly tokens = new Map<string, string>();
  readonly notes: string[] = [];
  readonly pool: WsPool;
  readonly kafka: Kafka;
  readonly redis: Redis | Cluster;
  adminToken = '';
  private subscriberSeq = 0;

  private constructor(
    readonly system: TestSystem,
    readonly profile: ChaosProfile,
  ) {
    this.pool = new WsPool(system.gatewayUrls);
    this.kafka = new Kafka({
      clientId: `chaos-${this.runId}`,
      brokers: system.kafkaBrokers.split(','),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
    });
    const retryStrategy = (n: number) => Math.min(2_000, 100 * n);
    const cluster = system.redisClusterNodes;
    this.redis = cluster
      ? new Cluster(
          cluster.map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })),
          { lazyConnect: true, clusterRetryStrategy: retryStrategy, retryDelayOnFailover: 200, retryDelayOnClusterDown: 300, redisOptions: { maxRetriesPerRequest: 3 } },
        )
      : new Redis(system.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3, retryStrategy });
    this.redis.on('error', () => undefined);
  }

  /** A progress line on the test output (set CHAOS_QUIET=1 to silence). */
  static log(line: string): void {
    if (process.env.CHAOS_QUIET !== '1') console.log(`[chaos ${new Date().toISOString().slice(11, 23)}] ${line}`);
  }

  log(line: string): void {
    ChaosHarness.log(line);
  }

  static async start(opts: ChaosHarnessOptions): Promise<ChaosHarness> {
    const replicas = opts.replicas ?? 2;
    const t = Date.now();
    ChaosHarness.log(`starting: ${replicas} replica(s) of each subgraph, ${opts.gateways ?? 2} gateway(s), broker, ${opts.redisCluster ? 'a Redis Cluster (3 masters + 3 replicas, AOF)' : 'redis-server (AOF)'}`);
    const session = String(opts.profile.sessionTimeoutMs);
    const system = await startSystem({
      replicas: { orders: replicas, inventory: replicas, notifications: replicas },
      gateways: opts.gateways ?? 2,
      redisAppendOnly: true,
      ...(opts.redisCluster ? { redisCluster: { masters: 3, replicasPerMaster: 1 } } : {}),
      sagaDeadlineMs: opts.profile.sagaDeadlineMs,
      dataDirPrefix: 'shop-chaos-',
      env: {
        RATE_LIMIT: '10000000',
        KAFKA_SESSION_TIMEOUT_MS: session,
        // Development aid only (never in CI): keep services alive through unhandled rejections, to test the
        // rest of the suite while such a crash is being fixed. The crash is still a failure without it.
        ...(process.env.CHAOS_TOLERATE_UNHANDLED === '1' ? { NODE_OPTIONS: '--unhandled-rejections=warn' } : {}),
        ...opts.env,
      },
    });
    const h = new ChaosHarness(system, opts.profile);
    try {
      await h.redis.connect();
      h.adminToken = await system.token(`chaos-admin-${h.runId}`, ['admin']);
      h.log(`system up in ${Date.now() - t} ms (data: ${system.dataDir})`);
    } catch (err) {
      await h.stop();
      throw err;
    }
    return h;
  }

  get gatewayCount(): number {
    return this.system.gatewayUrls.length;
  }

  url(gateway: number): string {
    return this.system.gatewayUrls[gateway % this.gatewayCount]!;
  }

  async customer(name: string): Promise<{ name: string; token: string }> {
    const sub = `${name}-${this.runId}`;
    let token = this.tokens.get(sub);
    if (!token) {
      token = await this.system.token(sub);
      this.tokens.set(sub, token);
    }
    return { name: sub, token };
  }

  // -- catalog and stock ------------------------------------------------------------------------

  /** Every product with its stock, read through a gateway (tries each). */
  async readStock(timeoutMs = 5_000): Promise<Map<string, ProductInfo> | undefined> {
    for (let g = 0; g < this.gatewayCount; g++) {
      const products = new Map<string, ProductInfo>();
      let after: string | null = null;
      let ok = true;
      for (let page = 0; page < 20; page++) {
        const r: GqlAnswer<{ products: { edges: { node: ProductInfo }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }> = await gql(
          this.url(g),
          STOCK,
          { first: 50, after },
          this.adminToken,
          timeoutMs,
        );
        if (r.outcome !== 'ok' || !r.data) {
          ok = false;
          break;
        }
        for (const e of r.data.products.edges) products.set(e.node.id, e.node);
        if (!r.data.products.pageInfo.hasNextPage) break;
        after = r.data.products.pageInfo.endCursor;
      }
      if (ok) return products;
    }
    return undefined;
  }

  /** Adds stock as an admin, once (no retry: a lost answer makes the product's count uncertain, noted). */
  async restock(productId: string, quantity: number): Promise<boolean> {
    const r = await gql<{ restock: ProductInfo }>(this.url(0), RESTOCK, { productId, quantity }, this.adminToken, 10_000);
    if (r.outcome === 'ok') {
      this.restocked.set(productId, (this.restocked.get(productId) ?? 0) + quantity);
      return true;
    }
    if (r.outcome === 'network' || r.outcome === 'http') {
      this.uncertainRestocks.add(productId);
      this.notes.push(`restock of ${productId} got no clear answer (${r.message}); its conservation check is relaxed`);
    } else {
      this.notes.push(`restock of ${productId} refused: ${r.code} ${r.message}`);
    }
    return false;
  }

  /** Samples stock every `everyMs` until stopped (for "never negative"). */
  startStockSampler(productIds: readonly string[], everyMs = 1_000): () => Promise<void> {
    const wanted = new Set(productIds);
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const stock = await this.readStock(3_000).catch(() => undefined);
        const at = Date.now();
        for (const p of stock?.values() ?? []) if (wanted.has(p.id)) this.stockSamples.push({ at, productId: p.id, stock: p.stock });
        await sleep(everyMs);
      }
    })();
    return async () => {
      stopped = true;
      await loop;
    };
  }

  // -- orders -------------------------------------------------------------------------------------

  /**
   * Places an order as a client would: POST to one gateway, and on a network error, a 5xx or a
   * retriable GraphQL error, again (same idempotency key) on the other gateway, with backoff, until
   * `budgetMs` is spent. Everything it is told is recorded.
   */
  async placeOrder(
    customer: { name: string; token: string },
    lines: readonly OrderLine[],
    paymentToken: string,
    opts: { gateway?: number; budgetMs?: number; key?: string } = {},
  ): Promise<PlacedOrder> {
    const key = opts.key ?? `chaos-${this.runId}-${this.placed.length}-${randomBytes(3).toString('hex')}`;
    const rec: PlacedOrder = {
      idempotencyKey: key,
      customer: customer.name,
      lines,
      paymentToken,
      placedAt: Date.now(),
      attempts: [],
      expectedOrderId: orderIdForIdempotencyKey(customer.name, key),
    };
    this.placed.push(rec);
    const budget = opts.budgetMs ?? 60_000;
    let gateway = opts.gateway ?? this.placed.length % this.gatewayCount;
    for (let attempt = 1; Date.now() - rec.placedAt < budget; attempt++) {
      const startedAt = Date.now();
      const r = await gql<{ placeOrder: { order: { id: string; status: string; customerId: string } } }>(
        this.url(gateway),
        PLACE,
        { input: { lines, paymentToken, idempotencyKey: key } },
        customer.token,
        10_000,
      );
      const a: PlaceAttempt = {
        gateway,
        startedAt,
        ms: r.ms,
        outcome: r.outcome,
        ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}),
        ...(r.code ? { code: r.code } : {}),
        ...(r.message ? { message: r.message.slice(0, 200) } : {}),
      };
      rec.attempts.push(a);
      const order = r.data?.placeOrder?.order;
      if (r.outcome === 'ok' && order) {
        rec.orderId = order.id;
        rec.answeredStatus = order.status;
        rec.acceptedAt = Date.now();
        return rec;
      }
      if (r.outcome === 'graphql' && r.code && !RETRIABLE_CODES.has(r.code) && r.code !== 'NO_CODE') {
        rec.refusedWith = r.code;
        return rec;
      }
      gateway = (gateway + 1) % this.gatewayCount;
      await sleep(Math.min(2_000, 100 * 2 ** Math.min(5, attempt - 1)) * (0.5 + Math.random() / 2));
    }
    return rec;
  }

  async cancelOrder(customer: { name: string; token: string }, rec: PlacedOrder, gateway: number): Promise<void> {
    if (!rec.orderId) return;
    for (let attempt = 0; attempt < 6; attempt++) {
      const r = await gql<{ cancelOrder: { id: string; status: string } }>(this.url(gateway + attempt), CANCEL, { id: rec.orderId }, customer.token, 10_000);
      if (r.outcome === 'ok') {
        rec.cancelAnswer = r.data?.cancelOrder.status ?? 'ok';
        return;
      }
      if (r.outcome === 'graphql' && r.code && !RETRIABLE_CODES.has(r.code)) {
        rec.cancelAnswer = r.code;
        return;
      }
      if (r.outcome === 'graphql' && r.code === 'CONFLICT') {
        rec.cancelAnswer = 'CONFLICT';
        return;
      }
      await sleep(300 * (attempt + 1));
    }
    rec.cancelAnswer = 'no answer';
  }

  /** Starts a subscriber on the order (it resumes on its own until it sees a final status). */
  watch(customer: { name: string; token: string }, orderId: string, gateway: number, onChange?: (c: ChangeMessage, s: Subscriber) => void): Subscriber {
    const sub = new Subscriber(this.pool, this.gatewayCount, orderId, customer.name, customer.token, gateway, `s${++this.subscriberSeq}`, onChange);
    this.subscribers.push(sub);
    return sub;
  }

  /**
   * Subscription churn, as real clients make it (tabs opened and closed): every `everyMs` a subscriber
   * watches one of `orderIds` for `lifeMs`, then unsubscribes. Not recorded with the subscribers the
   * invariants check (they stop on purpose); their own errors are counted. Returns the stopper.
   */
  startChurn(customer: { name: string; token: string }, orderIds: () => readonly string[], everyMs = 50, lifeMs = 300): () => { opened: number } {
    let opened = 0;
    const timer = setInterval(() => {
      const ids = orderIds();
      if (ids.length === 0) return;
      const id = ids[opened % ids.length]!;
      const sub = new Subscriber(this.pool, this.gatewayCount, id, customer.name, customer.token, opened % this.gatewayCount, `churn${opened}`);
      opened++;
      setTimeout(() => sub.stop(), lifeMs);
    }, everyMs);
    return () => {
      clearInterval(timer);
      return { opened };
    };
  }

  /**
   * Lines in the services' logs that say a process crashed or nearly did (an unhandled rejection or
   * exception, a fatal log line), whether or not it died of it.
   */
  crashLines(): string[] {
    const out: string[] = [];
    for (const [name, p] of this.system.processes) {
      let text: string;
      try {
        text = readFileSync(p.logFile, 'utf8');
      } catch {
        continue;
      }
      const lines = text.split('\n');
      lines.forEach((line, i) => {
        if (/UnhandledPromiseRejection|Unhandled promise rejection|uncaughtException|ERR_UNHANDLED_REJECTION|"level":60/.test(line)) {
          out.push(`${name}: ${line.slice(0, 240)}${/UnhandledPromiseRejection/.test(line) && lines[i + 1] ? ` ${lines[i + 1]!.trim().slice(0, 200)}` : ''}`);
        }
      });
    }
    return out;
  }

  /** Cuts a random WebSocket every `everyMs` until stopped. */
  startForcedDrops(everyMs: number): () => void {
    const timer = setInterval(() => this.pool.dropOne(), everyMs);
    return () => clearInterval(timer);
  }

  // -- read-back ------------------------------------------------------------------------------------

  /** Every order a client placed or may have placed (accepted ids and the ids unanswered keys map to), as the admin sees it. */
  async readOrders(ids: readonly string[], concurrency = 8): Promise<Map<string, ServerOrder | null>> {
    const out = new Map<string, ServerOrder | null>();
    const queue = [...new Set(ids)];
    const worker = async (w: number) => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        out.set(id, await this.readOrder(id, w));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    return out;
  }

  /** One order as the admin sees it (null when it does not exist); retried on transport errors. */
  async readOrder(id: string, gateway = 0): Promise<ServerOrder | null> {
    let last = '';
    for (let attempt = 0; attempt < 8; attempt++) {
      const r = await gql<{ order: { id: string; customerId: string; status: string; lines: { quantity: number; product: { id: string } }[]; history: ServerOrder['history'] } | null }>(
        this.url(gateway + attempt),
        ORDER_FULL,
        { id },
        this.adminToken,
        10_000,
      );
      if (r.outcome === 'ok' || (r.outcome === 'graphql' && r.data && r.code === 'NOT_FOUND')) {
        const o = r.data?.order;
        if (!o) return null;
        return { id: o.id, customerId: o.customerId, status: o.status, history: o.history, lines: o.lines.map((l) => ({ productId: l.product.id, quantity: l.quantity })) };
      }
      if (r.outcome === 'graphql' && r.code === 'NOT_FOUND') return null;
      last = `${r.outcome} ${r.code ?? ''} ${r.message ?? ''}`;
      await sleep(250 * (attempt + 1));
    }
    throw new Error(`could not read order ${id}: ${last}`);
  }

  /** Order ids listed by `myOrders` for each customer (all pages). */
  async listCustomerOrders(): Promise<string[]> {
    const ids: string[] = [];
    for (const [, token] of this.tokens) {
      let after: string | null = null;
      for (let page = 0; page < 200; page++) {
        const r: GqlAnswer<{ myOrders: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }> = await gql(
          this.url(page),
          MY_ORDERS,
          { first: 50, after },
          token,
          10_000,
        );
        if (r.outcome !== 'ok' || !r.data) throw new Error(`myOrders: ${r.outcome} ${r.code ?? ''} ${r.message ?? ''}`);
        ids.push(...r.data.myOrders.edges.map((e) => e.node.id));
        if (!r.data.myOrders.pageInfo.hasNextPage) break;
        after = r.data.myOrders.pageInfo.endCursor;
      }
    }
    return ids;
  }

  /** Waits until every given order is final (polling as the admin), or the deadline; returns the ids still not final (or unreadable). */
  async drain(ids: readonly string[], timeoutMs: number): Promise<Set<string>> {
    const deadline = Date.now() + timeoutMs;
    let pending = [...new Set(ids)];
    const last = new Map<string, ServerOrder | null>();
    while (pending.length > 0) {
      const read = await this.readOrders(pending).catch(() => new Map<string, ServerOrder | null>());
      for (const [id, o] of read) last.set(id, o);
      pending = pending.filter((id) => !isFinalStatus(last.get(id)?.status));
      if (pending.length === 0 || Date.now() > deadline) break;
      await sleep(1_000);
    }
    return new Set(pending);
  }

  /** The orders service's own Redis records (status, history length) next to what the API said. */
  async redisOrderViolations(orders: Iterable<ServerOrder>): Promise<{ checked: number; violations: string[] }> {
    const violations: string[] = [];
    let checked = 0;
    const list = [...orders];
    for (let i = 0; i < list.length; i += 200) {
      const chunk = list.slice(i, i + 200);
      // Separate commands, not a pipeline: on a cluster the orders live on different nodes.
      const res = await Promise.all(chunk.map((o) => Promise.all([this.redis.hget(`orders:{${o.id}}`, 'status'), this.redis.llen(`orders:{${o.id}}:history`)])));
      chunk.forEach((o, j) => {
        const [status, len] = res[j]!;
        checked++;
        if (status !== o.status) violations.push(`order ${o.id}: Redis says status ${status}, the API ${o.status}`);
        if (len !== o.history.length) violations.push(`order ${o.id}: Redis history has ${len} entries, the API ${o.history.length}`);
      });
    }
    return { checked, violations };
  }

  /** Every dead letter of every topic, as records for `checkDeadLetters`. */
  async readAllDeadLetters(): Promise<DeadLetterRecord[]> {
    const out: DeadLetterRecord[] = [];
    for (const topic of ALL_TOPICS) {
      const letters = await readDeadLetters(this.kafka, { topic, timeoutMs: 30_000 });
      for (const l of letters) {
        out.push({
          dlqTopic: l.dlqTopic,
          sourceTopic: l.sourceTopic,
          consumerGroup: l.consumerGroup ?? '<none>',
          value: l.record.value === null ? null : new Uint8Array(l.record.value),
          error: l.error,
          partition: l.partition,
          offset: l.offset,
        });
      }
    }
    return out;
  }

  // -- faults ---------------------------------------------------------------------------------------

  private proc(name: string) {
    const p = this.system.processes.get(name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  /** Runs one fault, timing it and recording what happened; rethrows its failure after recording. */
  async fault(kind: string, target: string, run: () => Promise<string | void>): Promise<FaultRecord> {
    const started = Date.now();
    this.log(`fault: ${kind} on ${target}; orders accepted so far ${this.placed.filter((p) => p.orderId).length}`);
    try {
      const detail = await run();
      this.log(`fault done: ${kind} on ${target} (${detail ?? ''})`);
      const rec: FaultRecord = { kind, target, startedAt: new Date(started).toISOString(), ms: Date.now() - started, ok: true, ...(detail ? { detail } : {}) };
      this.faults.push(rec);
      return rec;
    } catch (err) {
      this.log(`fault FAILED: ${kind} on ${target}: ${describeError(err)}`);
      this.faults.push({ kind, target, startedAt: new Date(started).toISOString(), ms: Date.now() - started, ok: false, detail: describeError(err) });
      throw err;
    }
  }

  /** SIGKILL the named processes at once, leave them dead `downMs`, start them again and wait until ready. */
  async killAndRestart(names: readonly string[], downMs: number, waitReady = true): Promise<string> {
    const pids = names.map((n) => `${n}:${this.proc(n).pid()}`);
    for (const n of names) this.proc(n).signal('SIGKILL');
    await Promise.all(names.map((n) => this.proc(n).exited()));
    await sleep(downMs);
    const t = Date.now();
    await Promise.all(names.map((n) => this.proc(n).restart()));
    if (!waitReady) return `killed ${pids.join(', ')}; restarted (not waiting until ready)`;
    await Promise.all(names.map((n) => this.system.waitReady(n, 90_000)));
    return `killed ${pids.join(', ')}; ready again ${Date.now() - t} ms after restart`;
  }

  /** SIGSTOP the named processes for `ms`, then SIGCONT (always, even on failure). */
  async freeze(names: readonly string[], ms: number): Promise<string> {
    try {
      for (const n of names) this.proc(n).signal('SIGSTOP');
      await sleep(ms);
    } finally {
      for (const n of names) this.proc(n).signal('SIGCONT');
    }
    await Promise.all(names.map((n) => this.system.waitReady(n, 90_000)));
    return `stopped ${ms} ms`;
  }

  /** A slow subgraph: `cycles` of SIGSTOP for `stopMs` then SIGCONT for `runMs`. */
  async slow(names: readonly string[], cycles: number, stopMs: number, runMs: number): Promise<string> {
    try {
      for (let i = 0; i < cycles; i++) {
        for (const n of names) this.proc(n).signal('SIGSTOP');
        await sleep(stopMs);
        for (const n of names) this.proc(n).signal('SIGCONT');
        await sleep(runMs);
      }
    } finally {
      for (const n of names) this.proc(n).signal('SIGCONT');
    }
    return `${cycles} × (stopped ${stopMs} ms, running ${runMs} ms)`;
  }

  /** Restarts redis-server (SIGTERM: it writes its AOF; same port and directory) and waits for PING. */
  async restartRedis(): Promise<string> {
    const before = Number(await this.redis.dbsize());
    const p = this.proc('redis');
    const t = Date.now();
    await p.restart();
    await this.system.waitReady('redis', 30_000);
    const after = Number(await retry(() => this.redis.dbsize(), 20, 250));
    return `down ${Date.now() - t} ms; keys before ${before}, after ${after}`;
  }

  /**
   * Crashes redis-server: SIGKILL (no shutdown, no last AOF write: with appendfsync everysec what it had not
   * yet written is gone), dead `downMs`, then started again on the same port and data directory.
   */
  async crashRedis(downMs: number): Promise<string> {
    const before = Number(await this.redis.dbsize());
    const p = this.proc('redis');
    const pid = p.pid();
    p.signal('SIGKILL');
    await p.exited();
    await sleep(downMs);
    const t = Date.now();
    await p.restart();
    await this.system.waitReady('redis', 30_000);
    const after = Number(await retry(() => this.redis.dbsize(), 20, 250));
    return `killed pid ${pid}, down ${downMs} ms; answering again ${Date.now() - t} ms after restart; keys before ${before}, after ${after}`;
  }

  /**
   * On a Redis Cluster: SIGKILL one master (the first one `redis-1` sees), wait until its replica took over
   * its slots (every node that answers says cluster_state:ok with all masters up), then start the killed
   * node again on its port and data directory, where it rejoins as a replica.
   */
  async killRedisMaster(): Promise<string> {
    const nodes = this.system.redisClusterNodes;
    if (!nodes) throw new Error('not running on a Redis Cluster');
    const masters = await clusterMasters(nodes[0]!);
    const victim = masters[0];
    const index = victim ? nodes.indexOf(victim) : -1;
    if (index < 0) throw new Error(`no master to kill (masters seen: ${masters.join(', ')})`);
    const p = this.proc(`redis-${index + 1}`);
    const pid = p.pid();
    const t = Date.now();
    p.signal('SIGKILL');
    await p.exited();
    const others = nodes.filter((n) => n !== victim);
    await waitUntil(
      'a replica to take over the killed master',
      async () => {
        const seen = await clusterMasters(others[0]!);
        if (seen.length !== masters.length || seen.includes(victim!)) return false;
        return (await Promise.all(others.map(clusterInfo))).every((i) => i?.cluster_state === 'ok');
      },
      60_000,
      100,
    );
    const failoverMs = Date.now() - t;
    const promoted = (await clusterMasters(others[0]!)).filter((m) => !masters.includes(m));
    await p.restart();
    await this.system.waitReady(p.name, 60_000);
    return `killed master ${victim} (redis-${index + 1}, pid ${pid}); ${promoted.join(', ')} took over in ${failoverMs} ms; the old master rejoined as a replica ${Date.now() - t - failoverMs} ms later`;
  }

  /** SIGKILL the broker, leave it dead `downMs`, start it again on the same port and data directory. */
  async killBroker(downMs: number): Promise<string> {
    const p = this.proc('broker');
    p.signal('SIGKILL');
    await p.exited();
    await sleep(downMs);
    const t = Date.now();
    await p.restart();
    await p.waitForOutput(/listening on/, 60_000);
    await this.system.waitReady('broker', 30_000);
    return `down ${downMs} ms; listening again ${Date.now() - t} ms after restart`;
  }

  /** Every process: pid alive, and /healthz (services), PING (redis) or a TCP connect (broker). */
  async processHealth(): Promise<{ name: string; pid: number | undefined; alive: boolean; healthy: boolean }[]> {
    const out: { name: string; pid: number | undefined; alive: boolean; healthy: boolean }[] = [];
    for (const [name, p] of this.system.processes) {
      const pid = p.pid();
      const alive = isAlive(pid);
      const base = this.baseUrlOf(name);
      const [host, port] = this.system.kafkaBrokers.split(',')[0]!.split(':');
      const healthy = base
        ? await httpOk(`${base}/healthz`).catch(() => false)
        : name === 'redis'
          ? (await this.redis.ping().catch(() => '')) === 'PONG'
          : name === 'broker'
            ? await tcpOk(host!, Number(port))
            : alive;
      out.push({ name, pid, alive, healthy });
    }
    return out;
  }

  baseUrlOf(name: string): string | undefined {
    const m = /^(gateway|orders|inventory|notifications)-(\d+)$/.exec(name);
    if (!m) return undefined;
    const i = Number(m[2]) - 1;
    const url = m[1] === 'gateway' ? this.system.gatewayUrls[i] : this.system.subgraphUrls[m[1] as 'orders' | 'inventory' | 'notifications'][i];
    return url ? new URL(url).origin : undefined;
  }

  /**
   * Processes that died without being told to (a crash), with the last lines of their log; empty when
   * all are up. `expectDown` names processes a fault is holding down right now.
   */
  crashed(expectDown: readonly string[] = []): string[] {
    const out: string[] = [];
    for (const [name, p] of this.system.processes) {
      if (expectDown.includes(name)) continue;
      const pid = p.pid();
      const alive = isAlive(pid);
      if (alive) continue;
      let tail: string;
      try {
        const lines = readFileSync(p.logFile, 'utf8').trimEnd().split('\n');
        const interesting = lines.filter((l) => !l.startsWith('{') || /"level":(50|60)/.test(l));
        tail = (interesting.length ? interesting : lines).slice(-6).join(' | ').slice(0, 600);
      } catch {
        tail = '(no log)';
      }
      out.push(`${name} (pid ${pid}) is not running; log: ${tail}`);
    }
    return out;
  }

  /** Waits until every process answers its readiness check. */
  async waitAllReady(timeoutMs = 90_000): Promise<void> {
    const t = Date.now();
    await Promise.all([...this.system.processes.keys()].map((n) => this.system.waitReady(n, timeoutMs)));
    this.log(`all ${this.system.processes.size} processes ready (${Date.now() - t} ms)`);
  }

  /** Starts again every process that is not running (a supervisor's job), waiting until each is ready. */
  async restartCrashed(): Promise<string[]> {
    const names = this.crashed().map((c) => c.split(' ')[0]!);
    await Promise.all(names.map((n) => this.proc(n).restart()));
    await Promise.all(names.map((n) => this.system.waitReady(n, 90_000).catch((err: unknown) => this.notes.push(`${n} did not come back: ${describeError(err)}`))));
    return names;
  }

  /** VmRSS (kB) of every process now. */
  rss(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, p] of this.system.processes) {
      const pid = p.pid();
      if (!pid) continue;
      try {
        const kb = parseVmRssKb(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (kb !== undefined) out.set(name, kb);
      } catch {
        // Exited between listing and reading.
      }
    }
    return out;
  }

  /** Stops subscribers, clients and every process (by pid, through the launcher). Idempotent. */
  async stop(): Promise<void> {
    for (const s of this.subscribers) s.stop();
    await this.pool.disposeAll().catch(() => undefined);
    this.redis.disconnect();
    // A frozen process would ignore SIGTERM until continued.
    for (const [, p] of this.system.processes) p.signal('SIGCONT');
    await this.system.stop();
  }
}

export async function retry<T>(fn: () => Promise<T>, attempts: number, delayMs: number): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await sleep(delayMs);
    }
  }
  throw last;
}

/** The pid exists and is not a zombie (a killed child not reaped yet still answers kill(pid, 0)). */
function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
