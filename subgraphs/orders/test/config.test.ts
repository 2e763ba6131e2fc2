import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, DEV_SECRETS } from '@shop/service-kit';
import { loadOrdersConfig } from '../src/config.js';

describe('orders config', () => {
  it('has local defaults', () => {
    expect(loadOrdersConfig({})).toMatchObject({
      port: DEFAULT_PORTS.orders,
      host: '127.0.0.1',
      redisUrl: 'redis://127.0.0.1:6390',
      kafkaBrokers: ['127.0.0.1:9092'],
      identitySecret: DEV_SECRETS.identity,
      sagaDeadlineMs: 30_000,
      production: false,
    });
  });
  it('reads durations with units', () => {
    expect(loadOrdersConfig({ SAGA_DEADLINE_MS: '2s', PAYMENT_TIMEOUT_MS: '750' })).toMatchObject({ sagaDeadlineMs: 2000, paymentTimeoutMs: 750, paymentInlineWaitMs: 100 });
    expect(loadOrdersConfig({ PAYMENT_INLINE_WAIT_MS: '0' }).paymentInlineWaitMs).toBe(0);
  });
  it('requires a real IDENTITY_SECRET in production', () => {
    expect(() => loadOrdersConfig({ NODE_ENV: 'production' })).toThrow(/IDENTITY_SECRET: required in production/);
    expect(() => loadOrdersConfig({ NODE_ENV: 'production', IDENTITY_SECRET: DEV_SECRETS.identity })).toThrow(/IDENTITY_SECRET/);
    expect(loadOrdersConfig({ NODE_ENV: 'production', IDENTITY_SECRET: 'a-real-secret-of-some-length-0123456789' }).production).toBe(true);
  });
  it('names every bad setting', () => {
    expect(() => loadOrdersConfig({ PORT: 'x', KAFKA_BROKERS: 'nohost', REDIS_URL: 'http://x' })).toThrow(/PORT[\s\S]*REDIS_URL|REDIS_URL[\s\S]*PORT/);
    expect(() => loadOrdersConfig({ KAFKA_BROKERS: 'nohost' })).toThrow(/KAFKA_BROKERS/);
  });
});
