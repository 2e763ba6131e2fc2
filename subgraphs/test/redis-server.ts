/** A real redis-server on a free port for one test file, killed by its pid (the shared test fixture). */
export { freePort } from '../../scripts/lib/processes.js';
export { startRedisServer, type RedisServer } from '../../test/support/redis-server.js';
