import type { Cluster, Redis } from 'ioredis';

/**
 * A client of one Redis node or of a Redis Cluster: the stores and the consumers work on either, because every
 * script and transaction they run touches one hash slot (keys are hash-tagged by the aggregate they belong to).
 */
export type RedisClient = Redis | Cluster;
