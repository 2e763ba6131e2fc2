export { createLogger, type Logger } from './logger.js';
export { parseEnv, envBoolean, envInt, envDurationMs, type EnvSource } from './env.js';
export { IDENTITY_HEADER, CORRELATION_HEADER, signIdentity, verifyIdentity, type Identity } from './identity.js';
export { ErrorCode, appError, badUserInput, unauthenticated, forbidden, notFound, conflict } from './errors.js';
export { handleOpsRequest, type ReadinessCheck } from './ops-routes.js';
export { connectRedis } from './redis.js';
export { DEFAULT_PORTS, DEV_SECRETS, isProduction } from './defaults.js';
export { correlationIdFrom } from './correlation.js';
