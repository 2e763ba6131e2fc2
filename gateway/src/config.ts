import { z } from 'zod';
import { DEFAULT_PORTS, DEV_SECRETS, MIN_SECRET_LENGTH, envBoolean, envDurationMs, envHostPorts, envInt, parseEnv, type EnvSource } from '@shop/service-kit';
import { isLoopback, isProxyEntry } from './middleware/client-address.js';
import { DEFAULT_SUPERGRAPH_PATH } from './supergraph/compose.js';

const url = (fallback: string) => z.string().optional().transform((v) => (v === undefined || v === '' ? fallback : v)).pipe(z.url());
const optionalString = z.string().optional().transform((v) => (v === '' ? undefined : v));
const secret = (fallback: string) => z.string().min(MIN_SECRET_LENGTH, `use at least ${MIN_SECRET_LENGTH} characters`).default(fallback);
const list = z
  .string()
  .default('')
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

/** `iss` and `aud` of the gateway's own HS256 tokens (`/auth/dev-token`, `npm run token`), required of every HS256 token. */
export const HS256_ISSUER = 'shop-gateway';
export const HS256_AUDIENCE = 'shop-api';
/** IP_RATE_LIMIT unset: ten times RATE_LIMIT. */
const FROM_RATE_LIMIT = -1;

const schema = z
  .object({
    PORT: envInt(DEFAULT_PORTS.gateway, 0, 65_535),
    HOST: z.string().default('127.0.0.1'),
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.string().default('info'),
    JWT_SECRET: secret(DEV_SECRETS.jwt),
    JWKS_URL: optionalString.pipe(z.url({ protocol: /^https$/, error: 'expected an https:// URL' }).optional()),
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    JWT_MAX_AGE: envDurationMs(24 * 3_600_000),
    IDENTITY_SECRET: secret(DEV_SECRETS.identity),
    DEV_TOKENS: envBoolean(false),
    TRUSTED_PROXIES: list.refine((entries) => entries.every(isProxyEntry), 'expected comma-separated IP addresses or CIDR blocks'),
    REDIS_URL: url(`redis://127.0.0.1:${DEFAULT_PORTS.redis}`),
    REDIS_CLUSTER_NODES: envHostPorts(),
    SUPERGRAPH_PATH: z.string().default(DEFAULT_SUPERGRAPH_PATH),
    CORS_ORIGINS: z.string().default(''),
    SUPERGRAPH_WATCH: envBoolean(true),
    MAX_DEPTH: envInt(12, 1, 1_000),
    MAX_ALIASES: envInt(30, 0, 10_000),
    MAX_COST: envInt(5_000, 1, 10_000_000),
    MAX_BODY_BYTES: envInt(1_048_576, 1_024, 100 * 1_048_576),
    RATE_LIMIT: envInt(600, 0, 10_000_000),
    RATE_LIMIT_WINDOW: envDurationMs(60_000),
    IP_RATE_LIMIT: envInt(FROM_RATE_LIMIT, 0, 1_000_000_000),
    WS_MAX_MESSAGE_BYTES: envInt(65_536, 1_024, 16 * 1_048_576),
    WS_MAX_CONNECTIONS_PER_CLIENT: envInt(20, 1, 100_000),
    WS_MAX_PENDING_PER_IP: envInt(64, 1, 10_000_000),
    WS_MAX_PENDING: envInt(4_096, 1, 10_000_000),
    WS_MAX_SUBSCRIPTIONS_PER_SOCKET: envInt(100, 1, 10_000_000),
    MAX_SUBSCRIPTIONS_PER_CLIENT: envInt(500, 1, 10_000_000),
    UPSTREAM_RETRY_ATTEMPTS: envInt(15, 0, 1_000),
    SUBGRAPH_HEALTH_INTERVAL: envDurationMs(2_000),
    SUBGRAPH_HEALTH_TIMEOUT: envDurationMs(1_000),
    MULTIPART_HEARTBEAT: envDurationMs(5_000),
    WS_KEEPALIVE: envDurationMs(12_000),
    QUERY_EXECUTOR: z.enum(['fast', 'stock']).default('fast'),
    SHUTDOWN_GRACE: envDurationMs(10_000),
    DEDUP_SUBGRAPHS_OFF: list,
    DEDUP_INBOUND: envBoolean(true),
  })
  .superRefine((env, ctx) => {
    if (env.SUBGRAPH_HEALTH_INTERVAL < 100 || env.SUBGRAPH_HEALTH_INTERVAL > 3_600_000) {
      ctx.addIssue({ code: 'custom', path: ['SUBGRAPH_HEALTH_INTERVAL'], message: 'expected between 100ms and 1h' });
    }
    if (env.SUBGRAPH_HEALTH_TIMEOUT < 10 || env.SUBGRAPH_HEALTH_TIMEOUT > env.SUBGRAPH_HEALTH_INTERVAL) {
      ctx.addIssue({ code: 'custom', path: ['SUBGRAPH_HEALTH_TIMEOUT'], message: 'expected at least 10ms and at most SUBGRAPH_HEALTH_INTERVAL' });
    }
    if (env.JWKS_URL && (!env.JWT_ISSUER || !env.JWT_AUDIENCE)) {
      ctx.addIssue({ code: 'custom', path: ['JWKS_URL'], message: 'set JWT_ISSUER and JWT_AUDIENCE too: tokens of the identity provider are only accepted for this issuer and audience' });
    }
    if (env.DEV_TOKENS && env.NODE_ENV === 'production') {
      ctx.addIssue({ code: 'custom', path: ['DEV_TOKENS'], message: 'the development token endpoint is refused in production' });
    }
    if (env.DEV_TOKENS && !isLoopback(env.HOST)) {
      ctx.addIssue({ code: 'custom', path: ['DEV_TOKENS'], message: `the development token endpoint is only served on a loopback HOST, not ${env.HOST}` });
    }
    if (env.NODE_ENV !== 'production') return;
    if (env.JWT_SECRET === DEV_SECRETS.jwt && !env.JWKS_URL) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'the development secret is refused in production: set JWKS_URL or JWT_SECRET' });
    }
    if (env.IDENTITY_SECRET === DEV_SECRETS.identity) {
      ctx.addIssue({ code: 'custom', path: ['IDENTITY_SECRET'], message: 'the development secret is refused in production' });
    }
  });

/** Everything the gateway reads from its environment, validated once (see the README table). */
export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  readonly production: boolean;
  readonly logLevel: string;
  readonly auth: {
    /** HS256 secret; used when `jwksUrl` is not set. */
    readonly jwtSecret: string;
    /** Verify RS/ES tokens against this key set (https) instead of the HS256 secret. */
    readonly jwksUrl?: string | undefined;
    /** Required `iss` and `aud` (with a JWKS, as configured; with HS256, the gateway's own unless set). */
    readonly issuer: string;
    readonly audience: string;
    /** Oldest accepted token (by `iat`), whatever its `exp` says. */
    readonly maxTokenAgeMs: number;
  };
  /** Serve `/auth/dev-token` (development only, loopback only; `DEV_TOKENS=true`). */
  readonly devTokens: boolean;
  /** Proxies whose `X-Forwarded-For` is believed (IPs or CIDR blocks). */
  readonly trustedProxies: readonly string[];
  /** HMAC secret of the `x-shop-identity` header, shared with the subgraphs. */
  readonly identitySecret: string;
  readonly redisUrl: string;
  /** Seed nodes of a Redis Cluster (`host:port`): when set, the rate limits live there, not at `redisUrl`. */
  readonly redisClusterNodes: readonly string[];
  /**
   * HTTP URLs of a subgraph's `/graphql`, one per replica, in place of the supergraph's routing URL, by
   * subgraph name (`<NAME>_URL`, comma-separated, e.g. ORDERS_URL for `orders`); the WS URLs are derived
   * from them. The subgraphs themselves are the supergraph's.
   */
  readonly subgraphUrls: Readonly<Record<string, readonly string[]>>;
  /** Every replica's `/readyz` is checked this often (a replica down comes back only by it); default 2 s. */
  readonly subgraphHealthIntervalMs: number;
  /** How long one health check may take before it counts as failed; default 1 s. */
  readonly subgraphHealthTimeoutMs: number;
  readonly supergraphPath: string;
  /** Browser origins allowed to call `/graphql` (local ones and Apollo Sandbox are allowed too in development). */
  readonly corsOrigins: readonly string[];
  /** Reload the supergraph file when it changes (development only). */
  readonly watchSupergraph: boolean;
  readonly limits: {
    readonly maxDepth: number;
    readonly maxAliases: number;
    readonly maxCost: number;
    readonly maxBodyBytes: number;
    /** Requests (HTTP operations and WS subscribe messages) per window per customer or IP; 0 = off. */
    readonly rateLimit: number;
    readonly rateLimitWindowMs: number;
    /**
     * Requests per window per client IP, counted before the token is looked at: HTTP requests,
     * WebSocket upgrades and every WebSocket message (pings included). Default 10 × `rateLimit`
     * (one address may carry many customers); 0 = off.
     */
    readonly ipRateLimit: number;
    readonly wsMaxMessageBytes: number;
    readonly wsMaxConnectionsPerClient: number;
    /** WebSockets of one IP (and of all) that have not completed connection_init yet; more are refused at the upgrade. */
    readonly wsMaxPendingPerIp: number;
    readonly wsMaxPending: number;
    /** Active subscriptions on one WebSocket, and of one customer (or IP) over every socket and multipart stream. */
    readonly wsMaxSubscriptionsPerSocket: number;
    readonly maxSubscriptionsPerClient: number;
  };
  readonly upstreamRetryAttempts: number;
  readonly multipartHeartbeatMs: number;
  /** `fast`: plans run by the gateway's own executor; `stock`: by @apollo/gateway's (for comparison, or as a way back). */
  readonly queryExecutor: 'fast' | 'stock';
  /** WebSocket ping period; a socket that has not answered the previous ping by the next is dropped. 0 = off. */
  readonly wsKeepAliveMs: number;
  readonly shutdownGraceMs: number;
  /** Subgraphs whose identical in-flight fetches are each sent (not shared); `*` for all of them. */
  readonly dedupOff: readonly string[];
  /** Identical client queries in flight at once are executed once and share the answer. */
  readonly dedupInbound: boolean;
}

/** `<NAME>_URL` variables that are not one of the gateway's own (REDIS_URL, JWKS_URL). */
const SUBGRAPH_URL_VARIABLE = /^([A-Z][A-Z0-9_]*)_URL$/;
const OWN_URL_VARIABLES = new Set(['REDIS_URL', 'JWKS_URL']);

/** Every `<NAME>_URL` (a comma-separated list of replicas) by lowercased name; only those of the supergraph's subgraphs are read (and checked) when it loads. */
function subgraphUrlsFrom(env: EnvSource): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {};
  for (const [name, value] of Object.entries(env)) {
    const m = SUBGRAPH_URL_VARIABLE.exec(name);
    if (!m || OWN_URL_VARIABLES.has(name) || value === undefined || value === '') continue;
    const urls = value.split(',').map((u) => u.trim()).filter(Boolean);
    if (urls.length) out[m[1]!.toLowerCase()] = urls;
  }
  return out;
}

export function loadConfig(env: EnvSource = process.env): GatewayConfig {
  const e = parseEnv('gateway', schema, env);
  const production = e.NODE_ENV === 'production';
  const ipRateLimit = e.IP_RATE_LIMIT === FROM_RATE_LIMIT ? Math.min(e.RATE_LIMIT * 10, 1_000_000_000) : e.IP_RATE_LIMIT;
  return {
    port: e.PORT,
    host: e.HOST,
    production,
    logLevel: e.LOG_LEVEL,
    auth: {
      jwtSecret: e.JWT_SECRET,
      jwksUrl: e.JWKS_URL,
      issuer: e.JWT_ISSUER ?? HS256_ISSUER,
      audience: e.JWT_AUDIENCE ?? HS256_AUDIENCE,
      maxTokenAgeMs: e.JWT_MAX_AGE,
    },
    devTokens: e.DEV_TOKENS,
    trustedProxies: e.TRUSTED_PROXIES,
    identitySecret: e.IDENTITY_SECRET,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    subgraphUrls: subgraphUrlsFrom(env),
    subgraphHealthIntervalMs: e.SUBGRAPH_HEALTH_INTERVAL,
    subgraphHealthTimeoutMs: e.SUBGRAPH_HEALTH_TIMEOUT,
    supergraphPath: e.SUPERGRAPH_PATH,
    corsOrigins: e.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
    watchSupergraph: !production && e.SUPERGRAPH_WATCH,
    limits: {
      maxDepth: e.MAX_DEPTH,
      maxAliases: e.MAX_ALIASES,
      maxCost: e.MAX_COST,
      maxBodyBytes: e.MAX_BODY_BYTES,
      rateLimit: e.RATE_LIMIT,
      rateLimitWindowMs: e.RATE_LIMIT_WINDOW,
      ipRateLimit,
      wsMaxMessageBytes: e.WS_MAX_MESSAGE_BYTES,
      wsMaxConnectionsPerClient: e.WS_MAX_CONNECTIONS_PER_CLIENT,
      wsMaxPendingPerIp: e.WS_MAX_PENDING_PER_IP,
      wsMaxPending: e.WS_MAX_PENDING,
      wsMaxSubscriptionsPerSocket: e.WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
      maxSubscriptionsPerClient: e.MAX_SUBSCRIPTIONS_PER_CLIENT,
    },
    upstreamRetryAttempts: e.UPSTREAM_RETRY_ATTEMPTS,
    multipartHeartbeatMs: e.MULTIPART_HEARTBEAT,
    wsKeepAliveMs: e.WS_KEEPALIVE,
    queryExecutor: e.QUERY_EXECUTOR,
    shutdownGraceMs: e.SHUTDOWN_GRACE,
    dedupOff: e.DEDUP_SUBGRAPHS_OFF,
    dedupInbound: e.DEDUP_INBOUND,
  };
}
