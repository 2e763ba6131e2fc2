import { describe, expect, it } from 'vitest';
import { DEV_SECRETS, MIN_SECRET_LENGTH } from '@shop/service-kit';
import { loadConfig } from './config.js';

describe('gateway config', () => {
  it('has local defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6390');
    // The subgraphs and their URLs are the supergraph's unless overridden.
    expect(c.subgraphUrls).toEqual({});
    expect(loadConfig({ ORDERS_URL: 'http://10.0.0.5:4001/graphql', REDIS_URL: 'redis://10.0.0.6:6379' }).subgraphUrls).toEqual({ orders: ['http://10.0.0.5:4001/graphql'] });
    expect(loadConfig({ ORDERS_URL: 'http://10.0.0.5:4001/graphql, http://10.0.0.7:4001/graphql,' }).subgraphUrls).toEqual({
      orders: ['http://10.0.0.5:4001/graphql', 'http://10.0.0.7:4001/graphql'],
    });
    expect([c.subgraphHealthIntervalMs, c.subgraphHealthTimeoutMs]).toEqual([2_000, 1_000]);
    expect(() => loadConfig({ SUBGRAPH_HEALTH_INTERVAL: '1s', SUBGRAPH_HEALTH_TIMEOUT: '5s' })).toThrow(/SUBGRAPH_HEALTH_TIMEOUT/);

    expect(c.limits).toMatchObject({ maxDepth: 12, maxAliases: 30, maxCost: 5000, maxBodyBytes: 1_048_576, rateLimit: 600, wsMaxMessageBytes: 65_536, wsMaxConnectionsPerClient: 20 });
    expect(c.auth.jwtSecret).toBe(DEV_SECRETS.jwt);
    // In-flight sharing is on for every subgraph unless listed.
    expect(c.dedupOff).toEqual([]);
    expect(c.dedupInbound).toBe(true);
    expect(loadConfig({ DEDUP_INBOUND: 'false' }).dedupInbound).toBe(false);
    expect(loadConfig({ DEDUP_SUBGRAPHS_OFF: ' orders, inventory ,' }).dedupOff).toEqual(['orders', 'inventory']);
  });

  it('refuses the development secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET[\s\S]*IDENTITY_SECRET/);
    expect(() =>
      loadConfig({ NODE_ENV: 'production', JWKS_URL: 'https://id.example.com/jwks.json', JWT_ISSUER: 'https://id.example.com/', JWT_AUDIENCE: 'shop-api', IDENTITY_SECRET: 'x'.repeat(40) }),
    ).not.toThrow();
  });

  it('with a JWKS, requires https and both an issuer and an audience', () => {
    const jwks = { JWKS_URL: 'https://id.example.com/jwks.json', JWT_ISSUER: 'https://id.example.com/', JWT_AUDIENCE: 'shop-api' };
    expect(loadConfig(jwks).auth).toMatchObject({ jwksUrl: jwks.JWKS_URL, issuer: jwks.JWT_ISSUER, audience: 'shop-api' });
    expect(() => loadConfig({ ...jwks, JWKS_URL: 'http://id.example.com/jwks.json' })).toThrow(/JWKS_URL: expected an https:\/\/ URL/);
    expect(() => loadConfig({ ...jwks, JWT_ISSUER: '' })).toThrow(/JWKS_URL: set JWT_ISSUER and JWT_AUDIENCE/);
    expect(() => loadConfig({ ...jwks, JWT_AUDIENCE: undefined })).toThrow(/JWKS_URL: set JWT_ISSUER and JWT_AUDIENCE/);
  });

  it('requires the gateway\'s own issuer and audience of HS256 tokens, and a maximum token age (24 h unless set)', () => {
    expect(loadConfig({}).auth).toMatchObject({ issuer: 'shop-gateway', audience: 'shop-api', maxTokenAgeMs: 24 * 3_600_000 });
    expect(loadConfig({ JWT_MAX_AGE: '2h' }).auth.maxTokenAgeMs).toBe(2 * 3_600_000);
  });

  it('holds both secrets to the one minimum length', () => {
    expect(() => loadConfig({ JWT_SECRET: 'x'.repeat(MIN_SECRET_LENGTH - 1), IDENTITY_SECRET: 'y'.repeat(MIN_SECRET_LENGTH - 1) })).toThrow(/JWT_SECRET: use at least 32[\s\S]*IDENTITY_SECRET: use at least 32/);
  });

  it('serves development tokens only when asked, never in production, only on a loopback HOST', () => {
    expect(loadConfig({}).devTokens).toBe(false);
    expect(loadConfig({ DEV_TOKENS: 'true' }).devTokens).toBe(true);
    expect(loadConfig({ DEV_TOKENS: 'true', HOST: '::1' }).devTokens).toBe(true);
    expect(() => loadConfig({ DEV_TOKENS: 'true', HOST: '0.0.0.0' })).toThrow(/DEV_TOKENS: .*loopback HOST, not 0\.0\.0\.0/);
    expect(() =>
      loadConfig({ DEV_TOKENS: 'true', NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(40), IDENTITY_SECRET: 'i'.repeat(40) }),
    ).toThrow(/DEV_TOKENS: the development token endpoint is refused in production/);
  });

  it('reads trusted proxies and the client limits, with their defaults', () => {
    const c = loadConfig({});
    expect(c.trustedProxies).toEqual([]);
    expect(c.limits).toMatchObject({ ipRateLimit: 6_000, wsMaxPendingPerIp: 64, wsMaxPending: 4_096, wsMaxSubscriptionsPerSocket: 100, maxSubscriptionsPerClient: 500 });
    expect(loadConfig({ RATE_LIMIT: '100' }).limits.ipRateLimit).toBe(1_000);
    expect(loadConfig({ IP_RATE_LIMIT: '0' }).limits.ipRateLimit).toBe(0);
    expect(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7,fd00::/8' }).trustedProxies).toEqual(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/TRUSTED_PROXIES/);
    expect(() => loadConfig({ TRUSTED_PROXIES: 'proxy.internal' })).toThrow(/TRUSTED_PROXIES/);
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'abc', MAX_DEPTH: '0', ORDERS_URL: 'not a url' })).toThrow(/PORT[\s\S]*ORDERS_URL|PORT[\s\S]*MAX_DEPTH/);
  });
});
