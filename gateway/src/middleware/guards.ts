/**
 * The per-client limits every transport applies, each counted in one place: rate limits (per
 * customer or address, and per address before the token is read) and the connections and
 * subscriptions a client holds open.
 */
import type { RedisClient as Redis } from '@shop/service-kit';
import { ErrorCode, type Identity, type Logger } from '@shop/service-kit';
import { GraphQLError } from '../graphql.js';
import { ClientSlots } from './client-slots.js';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import { createRateLimiter, type RateLimitDecision, type RateLimiter } from './rate-limit.js';

/** How long a request waits for the rate limiter before going through without it. */
const RATE_LIMIT_TIMEOUT_MS = 1_000;

/** A customer (`sub:<id>`) or, anonymous, an address (`ip:<address>`). */
export function clientKey(identity: Identity | null, clientIp: string): string {
  return identity ? `sub:${identity.sub}` : `ip:${clientIp}`;
}

export class RateLimits {
  readonly #perClient: RateLimiter;
  readonly #perIp: RateLimiter;

  constructor(
    redis: Redis,
    private readonly limits: GatewayConfig['limits'],
    private readonly metrics: GatewayMetrics,
  ) {
    this.#perClient = createRateLimiter(redis, { limit: limits.rateLimit, windowMs: limits.rateLimitWindowMs, keyPrefix: 'shop:gateway:rate:' });
    // Before the token is looked at: requests with bad tokens, pings and sockets that never
    // authenticate count too. Its own prefix, so an IP's bucket and an anonymous client's differ.
    this.#perIp = createRateLimiter(redis, { limit: limits.ipRateLimit, windowMs: limits.rateLimitWindowMs, keyPrefix: 'shop:gateway:ip-rate:' });
  }

  get ipLimited(): boolean {
    return this.limits.ipRateLimit > 0;
  }

  /** RATE_LIMITED when the customer (or anonymous address) is over its limit; `undefined` to go on. */
  client(identity: Identity | null, clientIp: string, log: { readonly logger: Logger }): GraphQLError | undefined | Promise<GraphQLError | undefined> {
    return this.#over(this.#perClient, this.limits.rateLimit, clientKey(identity, clientIp), 'rate', log);
  }

  /** RATE_LIMITED when the address is over its limit; `undefined` to go on. */
  ip(clientIp: string, log: { readonly logger: Logger }): GraphQLError | undefined | Promise<GraphQLError | undefined> {
    return this.#over(this.#perIp, this.limits.ipRateLimit, clientIp, 'ip_rate', log);
  }

  /** Decided at once when the limiter can (most requests); otherwise after Redis, or without it after a timeout. */
  #over(limiter: RateLimiter, limit: number, key: string, reason: string, log: { readonly logger: Logger }): GraphQLError | undefined | Promise<GraphQLError | undefined> {
    if (limit <= 0) return undefined;
    let pending: RateLimitDecision | Promise<RateLimitDecision>;
    try {
      pending = limiter.hit(key);
    } catch (err) {
      return this.#failOpen(err, log);
    }
    if (!(pending instanceof Promise)) return this.#refusal(pending, limit, reason);
    // Fail open fast: a slow or reconnecting Redis must not add its timeouts to every request.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('rate limiter timed out')), RATE_LIMIT_TIMEOUT_MS);
    });
    return Promise.race([pending, timeout])
      .finally(() => clearTimeout(timer))
      .then(
        (decision) => this.#refusal(decision, limit, reason),
        (err: unknown) => this.#failOpen(err, log),
      );
  }

  #refusal(decision: RateLimitDecision, limit: number, reason: string): GraphQLError | undefined {
    if (decision.allowed) return undefined;
    this.metrics.refusals.inc({ reason });
    return new GraphQLError(`Too many requests: at most ${limit} per ${this.limits.rateLimitWindowMs / 1000} s.`, {
      extensions: { code: ErrorCode.RATE_LIMITED, retryAfterMs: decision.resetMs },
    });
  }

  /** Redis trouble must not take the API down: let the request through, loudly. */
  #failOpen(err: unknown, log: { readonly logger: Logger }): undefined {
    log.logger.warn({ err: (err as Error).message }, 'rate limiter unavailable; allowing the request');
    return undefined;
  }

  async flush(): Promise<void> {
    await Promise.all([this.#perClient.flush(), this.#perIp.flush()]).catch(() => undefined);
  }
}

/** Open WebSockets and multipart streams, and active subscriptions, per client (over every socket and stream). */
export class ClientLimits {
  readonly #connections: ClientSlots;
  readonly #subscriptions: ClientSlots;

  constructor(
    limits: GatewayConfig['limits'],
    private readonly metrics: GatewayMetrics,
  ) {
    this.#connections = new ClientSlots(limits.wsMaxConnectionsPerClient);
    this.#subscriptions = new ClientSlots(limits.maxSubscriptionsPerClient);
  }

  /** Takes a connection slot; false (counted as a refusal) when the client holds its maximum. */
  takeConnection(key: string): boolean {
    if (this.#connections.take(key)) return true;
    this.metrics.refusals.inc({ reason: 'ws_connections' });
    return false;
  }

  releaseConnection(key: string): void {
    this.#connections.release(key);
  }

  /** Takes a subscription slot; the RATE_LIMITED error (counted as a refusal) when the client holds its maximum. */
  takeSubscription(key: string): GraphQLError | undefined {
    if (this.#subscriptions.take(key)) return undefined;
    this.metrics.refusals.inc({ reason: 'subscriptions' });
    return tooManySubscriptions('client', this.#subscriptions.max);
  }

  releaseSubscription(key: string): void {
    this.#subscriptions.release(key);
  }
}

export function tooManySubscriptions(scope: 'socket' | 'client', max: number): GraphQLError {
  return new GraphQLError(`Too many active subscriptions for this ${scope === 'socket' ? 'connection' : 'client'} (at most ${max}).`, {
    extensions: { code: ErrorCode.RATE_LIMITED, limit: scope === 'socket' ? 'subscriptionsPerSocket' : 'subscriptionsPerClient', max },
  });
}

export const tokenExpired = (): GraphQLError => new GraphQLError('The token has expired: connect again with a new one.', { extensions: { code: ErrorCode.UNAUTHENTICATED } });
