import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, DEV_SECRETS, MIN_SECRET_LENGTH } from '../src/defaults.js';
import { envInt, parseEnv } from '../src/env.js';
import { serviceConfigFrom, serviceEnvSchema } from '../src/service-config.js';

const load = (env: Record<string, string | undefined>) => {
  const e = parseEnv('svc', serviceEnvSchema(4321, { EXTRA: envInt(7) }), env);
  return { ...serviceConfigFrom(e), extra: e.EXTRA };
};

describe('service config', () => {
  it('has local defaults for the common variables and keeps the service ones', () => {
    expect(load({})).toEqual({
      production: false,
      port: 4321,
      host: '127.0.0.1',
      redisUrl: `redis://127.0.0.1:${DEFAULT_PORTS.redis}`,
      redisClusterNodes: [],
      kafkaBrokers: [`127.0.0.1:${DEFAULT_PORTS.kafka}`],
      identitySecret: DEV_SECRETS.identity,
      consumerConcurrency: 6,
      consumerSessionTimeoutMs: 30_000,
      topicPartitions: 6,
      extra: 7,
    });
  });
  it('reads every common variable', () => {
    expect(
      load({
        PORT: '0',
        HOST: '0.0.0.0',
        REDIS_URL: 'rediss://r:1',
        REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,',
        KAFKA_BROKERS: ' a:1, b:2 ,',
        IDENTITY_SECRET: 'a-real-secret-of-some-length-0123456789',
        CONSUMER_CONCURRENCY: '12',
        KAFKA_SESSION_TIMEOUT_MS: '6s',
        KAFKA_TOPIC_PARTITIONS: '24',
        EXTRA: '3',
      }),
    ).toEqual({
      production: false,
      port: 0,
      host: '0.0.0.0',
      redisUrl: 'rediss://r:1',
      redisClusterNodes: ['10.0.0.1:7000', '10.0.0.2:7001'],
      kafkaBrokers: ['a:1', 'b:2'],
      identitySecret: 'a-real-secret-of-some-length-0123456789',
      consumerConcurrency: 12,
      consumerSessionTimeoutMs: 6_000,
      topicPartitions: 24,
      extra: 3,
    });
  });
  it('requires a real IDENTITY_SECRET in production', () => {
    expect(() => load({ NODE_ENV: 'production' })).toThrow('svc: invalid configuration\n  IDENTITY_SECRET: required in production (and not the development default)');
    expect(() => load({ NODE_ENV: 'production', IDENTITY_SECRET: DEV_SECRETS.identity })).toThrow(/IDENTITY_SECRET: required in production/);
    expect(load({ NODE_ENV: 'production', IDENTITY_SECRET: 'a-real-secret-of-some-length-0123456789' }).production).toBe(true);
  });
  it('holds IDENTITY_SECRET to the one minimum length every service uses (the gateway too)', () => {
    expect(MIN_SECRET_LENGTH).toBe(32);
    expect(() => load({ IDENTITY_SECRET: 'x'.repeat(MIN_SECRET_LENGTH - 1) })).toThrow(/IDENTITY_SECRET: use at least 32 characters/);
    expect(load({ IDENTITY_SECRET: 'x'.repeat(MIN_SECRET_LENGTH) }).identitySecret).toHaveLength(MIN_SECRET_LENGTH);
  });
  it('names every bad setting, common and own', () => {
    let message = '';
    try {
      load({ PORT: '70000', HOST: '', REDIS_URL: 'http://x', REDIS_CLUSTER_NODES: 'a:1,nohost', KAFKA_BROKERS: 'nohost', IDENTITY_SECRET: 'short', CONSUMER_CONCURRENCY: '0', EXTRA: 'x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'svc: invalid configuration',
      '  PORT: expected an integer in 0..65535, got "70000"',
      expect.stringMatching(/^ {2}HOST: /),
      '  REDIS_URL: expected redis://host:port',
      '  REDIS_CLUSTER_NODES.1: expected host:port',
      '  KAFKA_BROKERS.0: expected host:port',
      `  IDENTITY_SECRET: use at least ${MIN_SECRET_LENGTH} characters`,
      '  CONSUMER_CONCURRENCY: expected an integer in 1..64, got "0"',
      `  EXTRA: expected an integer in 0..${Number.MAX_SAFE_INTEGER}, got "x"`,
    ]);
  });
});
