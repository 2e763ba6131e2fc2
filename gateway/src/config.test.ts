import { describe, expect, it } from 'vitest';
import { DEV_SECRETS } from '@shop/service-kit';
import { loadConfig } from './config.js';

describe('gateway config', () => {
  it('has local defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6390');
    expect(c.subgraphUrls).toEqual({
      orders: 'http://127.0.0.1:4001/graphql',
      inventory: 'http://127.0.0.1:4002/graphql',
      notifications: 'http://127.0.0.1:4003/graphql',
    });
    expect(c.limits).toMatchObject({ maxDepth: 12, maxAliases: 30, maxCost: 5000, maxBodyBytes: 1_048_576, rateLimit: 600, wsMaxMessageBytes: 65_536, wsMaxConnectionsPerClient: 20 });
    expect(c.auth.jwtSecret).toBe(DEV_SECRETS.jwt);
  });

  it('refuses the development secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET[\s\S]*IDENTITY_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWKS_URL: 'https://id.example.com/jwks.json', IDENTITY_SECRET: 'x'.repeat(40) })).not.toThrow();
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'abc', MAX_DEPTH: '0', ORDERS_URL: 'not a url' })).toThrow(/PORT[\s\S]*ORDERS_URL|PORT[\s\S]*MAX_DEPTH/);
  });
});
