import { Cluster } from 'ioredis';
import type { RedisClient as Redis } from '../redis-client.js';
import { redisScript } from '../redis-script.js';

/**
 * A consumer group's progress on one partition, kept in the same Redis as the state its handlers write.
 *
 * Redis, not Kafka, is where a group's position is the truth: Redis applies and logs commands in one order
 * (AOF, replication), so whatever survives a crash is a prefix of what was written. The offset of a batch is
 * written after every state change the batch made, so a Redis that lost its last writes loses the offset with
 * them, and the consumer applies those records again from the offset that survived (handlers and markers
 * make that idempotent). Kafka's committed offsets still move, for tools and for a Redis that has none yet.
 *
 * Keys are hash-tagged per group and partition, so one batch's script touches one slot.
 *
 * On a Redis Cluster a batch's state is spread over several masters and its offset lives on one of them, so
 * "a prefix of what was written" holds per master, not across them: a failover that loses a state write on
 * one master while the offset on another survived would not rewind. So on a cluster with replicas the offset
 * is written only once every master has acknowledged the writes so far on at least one replica (WAIT), and
 * the replica promoted in a failover holds the batch's state before any offset past it exists. A master that
 * does not confirm in time (no replica yet after a failover, or a restarted old master that still takes writes
 * it will drop when it learns it was replaced) gets the batch applied again instead.
 */
const tag = (groupId: string, topic: string, partition: number) => `{${groupId}:${topic}:${partition}}`;

/** Redis key of the marker saying `groupId` has processed `eventId` (an event id lives on one partition). */
export function processedKey(groupId: string, topic: string, partition: number, eventId: string): string {
  return `events:${tag(groupId, topic, partition)}:processed:${eventId}`;
}

/** Redis key holding the next offset `groupId` has to apply on `topic`/`partition`. */
export function offsetKey(groupId: string, topic: string, partition: number): string {
  return `events:${tag(groupId, topic, partition)}:offset`;
}

// Which Redis this is: a restart from disk (or a failover) gets a new run id, and may have lost writes.
const RUN_ID = `local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')`;

/** KEYS: offset key, marker keys. Returns [run id, stored offset or '', 1/0 per marker]. */
const begin = redisScript<[string, string, ...number[]]>(`${RUN_ID}
local r = { run_id, redis.call('GET', KEYS[1]) or '' }
for i = 2, #KEYS do r[i + 1] = redis.call('EXISTS', KEYS[i]) end
return r`);

/**
 * KEYS: offset key, marker keys. ARGV: run id seen at the start, offset seen at the start ('' none), the new
 * offset, marker TTL seconds, marker values. Writes only when the same Redis still holds the same offset.
 * Returns [1] or [0, stored offset or ''].
 */
const end = redisScript<[number, string?]>(`${RUN_ID}
local stored = redis.call('GET', KEYS[1]) or ''
if run_id ~= ARGV[1] or stored ~= ARGV[2] then return { 0, stored } end
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 3], 'EX', ARGV[4], 'NX') end
redis.call('SET', KEYS[1], ARGV[3])
return { 1 }`);

export interface CheckpointStart {
  /** The Redis run the batch starts on: a different one at the end means writes may have been lost. */
  readonly runId: string;
  /** The next offset to apply, as stored (null: none stored yet). */
  readonly stored: string | null;
  /** Per marker key asked for: whether it is set. */
  readonly processed: readonly boolean[];
}

export type CheckpointEnd =
  | { readonly written: true }
  /** `unconfirmed`: cluster masters whose replica did not confirm the batch's writes (nothing was written). */
  | { readonly written: false; readonly stored: string | null; readonly unconfirmed?: readonly string[] };

/** How long a batch waits for a master's replica before it writes its offset anyway (a replica down, say). */
export const REPLICA_WAIT_MS = 200;

/**
 * On a cluster with replicas: waits until every master has this client's writes on at least one replica (or
 * `REPLICA_WAIT_MS` passed). Returns the masters that did not confirm in time (nothing on one node).
 */
async function replicated(redis: Redis): Promise<string[]> {
  if (!(redis instanceof Cluster) || redis.nodes('slave').length === 0) return [];
  const masters = redis.nodes('master');
  const acks = await Promise.all(masters.map((node) => node.wait(1, REPLICA_WAIT_MS).catch(() => 0)));
  return masters.filter((_, i) => acks[i] === 0).map((node) => `${node.options.host}:${node.options.port}`);
}

export function createCheckpoints(redis: Redis, groupId: string) {
  return {
    /** Where the partition stands, and which of the batch's events were processed before: one round trip. */
    async start(topic: string, partition: number, markerKeys: readonly string[]): Promise<CheckpointStart> {
      const [runId, stored, ...flags] = await begin(redis, [offsetKey(groupId, topic, partition), ...markerKeys], []);
      return { runId, stored: stored === '' ? null : stored, processed: flags.map((f) => f === 1) };
    },

    /**
     * Records a batch as applied: its markers and the partition's next offset, in one script, unless Redis
     * restarted or another member moved the partition on since `start` (then nothing is written).
     */
    async finish(
      topic: string,
      partition: number,
      from: CheckpointStart,
      next: string,
      markers: readonly { readonly key: string; readonly value: string }[],
      ttlSeconds: number,
    ): Promise<CheckpointEnd> {
      const unconfirmed = await replicated(redis);
      // Not on a replica: the batch is applied again rather than its offset stored over writes a failover may drop.
      if (unconfirmed.length > 0) return { written: false, stored: from.stored, unconfirmed };
      const keys = [offsetKey(groupId, topic, partition), ...markers.map((m) => m.key)];
      const args = [from.runId, from.stored ?? '', next, ttlSeconds, ...markers.map((m) => m.value)];
      const [written, stored] = await end(redis, keys, args);
      return written === 1 ? { written: true } : { written: false, stored: stored ? stored : null };
    },

    /** The stored next offset of a partition (null: none). */
    async stored(topic: string, partition: number): Promise<string | null> {
      return redis.get(offsetKey(groupId, topic, partition));
    },
  };
}

export type Checkpoints = ReturnType<typeof createCheckpoints>;
