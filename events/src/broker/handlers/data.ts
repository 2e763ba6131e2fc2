/** Produce, Fetch and ListOffsets: the data path. */
import type { BrokerContext, ConnectionInfo } from '../context.js';
import type { PartitionLog } from '../log/partition-log.js';
import { codeOf, ErrorCode, KafkaBrokerError } from '../protocol/errors.js';
import { parseProducedBatches } from '../protocol/record-batch.js';
import type { FetchPartitionResponse, FetchRequest, FetchResponse } from '../protocol/requests/fetch.js';
import type { ListOffsetsPartition, ListOffsetsRequest, ListOffsetsResponse } from '../protocol/requests/list-offsets.js';
import type { ProducePartitionResponse, ProduceRequest, ProduceResponse } from '../protocol/requests/produce.js';

export function handleProduce(ctx: BrokerContext, req: ProduceRequest): ProduceResponse | Promise<ProduceResponse> | null {
  const syncs: Promise<void>[] = [];
  const validAcks = req.acks === 0 || req.acks === 1 || req.acks === -1;
  const alwaysSync = ctx.logs.fsyncPolicy === 'always';
  const res: ProduceResponse = {
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p): ProducePartitionResponse => {
        const log = ctx.logs.get(t.name, p.index);
        const out = { index: p.index, errorCode: ErrorCode.NONE, baseOffset: -1, logStartOffset: log?.logStartOffset ?? -1 };
        if (!validAcks) return { ...out, errorCode: ErrorCode.INVALID_REQUIRED_ACKS };
        if (req.transactionalId !== null) return { ...out, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'transactions are not supported' };
        if (!log) return { ...out, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        try {
          out.baseOffset = log.append(parseProducedBatches(p.records ?? Buffer.alloc(0)));
          if (alwaysSync && req.acks !== 0) syncs.push(log.sync());
          return out;
        } catch (err) {
          if (!(err instanceof KafkaBrokerError)) ctx.logger.error({ err, topic: t.name, partition: p.index }, 'append failed');
          return { ...out, errorCode: codeOf(err), errorMessage: err instanceof Error ? err.message : null };
        }
      }),
    })),
  };
  if (req.acks === 0) return null;
  return syncs.length ? Promise.all(syncs).then(() => res) : res;
}

/** What a fetch would return now, measured from the logs' indexes without reading a byte. */
interface Measured {
  bytes: number;
  hasError: boolean;
  /** The requested partitions that exist: what a parked fetch waits on. */
  logs: PartitionLog[];
}

function measureFetch(ctx: BrokerContext, req: FetchRequest): Measured {
  let bytes = 0;
  let hasError = false;
  const logs: PartitionLog[] = [];
  const maxBytes = fetchMaxBytes(req);
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const log = ctx.logs.get(t.topic, p.partition);
      if (!log) {
        hasError = true;
        continue;
      }
      logs.push(log);
      try {
        bytes += log.readableBytes(p.fetchOffset, Math.max(Math.min(p.partitionMaxBytes, maxBytes - bytes), 0), bytes === 0);
      } catch {
        hasError = true;
      }
    }
  }
  return { bytes, hasError, logs };
}

function fetchMaxBytes(req: FetchRequest): number {
  return req.maxBytes > 0 ? req.maxBytes : Number.MAX_SAFE_INTEGER;
}

function collectFetch(ctx: BrokerContext, req: FetchRequest): FetchResponse {
  let total = 0;
  const maxBytes = fetchMaxBytes(req);
  const topics = req.topics.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p): FetchPartitionResponse => {
      const log = ctx.logs.get(t.topic, p.partition);
      if (!log) return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, logStartOffset: -1, records: [] };
      const base = { partition: p.partition, errorCode: ErrorCode.NONE, highWatermark: log.highWatermark, logStartOffset: log.logStartOffset };
      try {
        const budget = Math.min(p.partitionMaxBytes, maxBytes - total);
        // KIP-74: the first non-empty partition may exceed the limits so a big batch cannot stall a consumer.
        const { records, bytes } = log.read(p.fetchOffset, Math.max(budget, 0), total === 0);
        total += bytes;
        return { ...base, records };
      } catch (err) {
        return { ...base, errorCode: codeOf(err), records: [] };
      }
    }),
  }));
  return { errorCode: ErrorCode.NONE, topics };
}

/**
 * Long poll: answers as soon as min_bytes are available (or there is an error), otherwise parks until
 * an append to any requested partition wakes it, max_wait_ms passes, the connection closes or the
 * broker stops. Waking is push-based (per-partition waiters), so latency is not bound to a poll tick.
 * A parked fetch only measures what it would return (index arithmetic) at each wake-up, and reads the
 * records once it answers: a consumer waiting for a large min_bytes costs no reads while the data grows.
 */
export async function handleFetch(ctx: BrokerContext, req: FetchRequest, conn: ConnectionInfo): Promise<FetchResponse> {
  if (req.sessionId !== 0) return { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, topics: [] };
  const deadline = Date.now() + Math.max(req.maxWaitMs, 0);
  for (;;) {
    const stop = conn.isClosed() || ctx.isClosing();
    const m = measureFetch(ctx, req);
    const remaining = deadline - Date.now();
    if (m.bytes >= Math.max(req.minBytes, 1) || m.hasError || remaining <= 0 || stop || m.logs.length === 0) return collectFetch(ctx, req);
    await new Promise<void>((resolve) => {
      const unregister: (() => void)[] = [];
      const wake = (): void => {
        clearTimeout(timer);
        for (const u of unregister) u();
        resolve();
      };
      const timer = setTimeout(wake, remaining);
      for (const log of m.logs) unregister.push(log.waitForAppend(wake));
      unregister.push(conn.onClose(wake), ctx.onClosing(wake));
    });
  }
}

const LATEST = -1;
const EARLIEST = -2;

export function handleListOffsets(ctx: BrokerContext, req: ListOffsetsRequest): ListOffsetsResponse {
  return {
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p): ListOffsetsPartition => {
        const log = ctx.logs.get(t.name, p.partitionIndex);
        const out = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp: -1, offset: -1 };
        if (!log) return { ...out, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        if (p.timestamp === LATEST) return { ...out, offset: log.highWatermark };
        if (p.timestamp === EARLIEST) return { ...out, offset: log.logStartOffset };
        if (p.timestamp < 0) return { ...out, errorCode: ErrorCode.INVALID_REQUEST };
        try {
          const found = log.offsetForTimestamp(p.timestamp);
          return found ? { ...out, offset: found.offset, timestamp: found.timestamp } : out;
        } catch (err) {
          // Only reachable with a batch whose CRC is fine but whose records do not decode.
          ctx.logger.error({ err, topic: t.name, partition: p.partitionIndex }, 'timestamp lookup failed');
          return { ...out, errorCode: ErrorCode.CORRUPT_MESSAGE };
        }
      }),
    })),
  };
}
