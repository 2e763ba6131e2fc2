/**
 * The one place for local defaults shared by every process. Ports are the ones `npm start` uses;
 * Redis sits on 6390 (not 6379) so a system redis-server never collides with the embedded one.
 */
export const DEFAULT_PORTS = {
  gateway: 4000,
  orders: 4001,
  inventory: 4002,
  notifications: 4003,
  webDemo: 5173,
  kafka: 9092,
  redis: 6390,
} as const;

/**
 * The one minimum length of every secret (JWT_SECRET, IDENTITY_SECRET), in every service: 32
 * characters of a random string carry well over the 128 bits an HMAC-SHA256 key needs.
 */
export const MIN_SECRET_LENGTH = 32;

/**
 * Development-only secrets. Every service refuses to start with them when NODE_ENV=production
 * (see `parseEnv` callers), so they can never protect real data by accident.
 */
export const DEV_SECRETS = {
  jwt: 'dev-only-jwt-secret-change-me-0123456789',
  identity: 'dev-only-gateway-identity-secret-0123456789',
} as const;
