/** Wires the stores, the coordinator and the TCP listener together; owns startup and shutdown order. */
import { createServer, type Server, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { Connection } from './connection.js';
import type { BrokerContext, BrokerSettings } from './context.js';
import { GroupCoordinator } from './group/coordinator.js';
import { OffsetStore } from './group/offset-store.js';
import { LogManager, type FsyncPolicy } from './log/log-manager.js';

const MiB = 1024 * 1024;

export interface BrokerOptions {
  /** Interface to bind. Default `'127.0.0.1'`. */
  host?: string;
  /** TCP port. Default `9092`; `0` lets the OS pick a free one (read it back from `broker.port`). */
  port?: number;
  /**
   * Directory for segment logs, committed offsets and topic metadata. Default: none — everything is
   * kept in memory and lost on close.
   */
  dataDir?: string;
  /** Host put in Metadata/FindCoordinator answers. Default: the bound `host` (127.0.0.1 for a wildcard bind). */
  advertisedHost?: string;
  /** This broker's node id in Metadata. Default `0`. */
  nodeId?: number;
  /** Create unknown topics on Metadata requests that allow it (as `auto.create.topics.enable`). Default `true`. */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics with num_partitions -1. Default `1`. */
  defaultPartitions?: number;
  /**
   * When appended data is fsynced (only with `dataDir`). Produce is always answered after the batch
   * has been written to the segment file, i.e. it is in the OS page cache and survives a crash of
   * this process (kill -9); fsync additionally protects against power loss / OS crash:
   * - `'always'`: fsync before answering each produce (concurrent produces share one fsync);
   * - `'interval'` (default): fsync dirty files every `fsyncIntervalMs` — up to that much
   *   acknowledged data can be lost if the machine itself crashes;
   * - `'never'`: leave it to the OS (and to `close()`).
   */
  fsync?: FsyncPolicy;
  /** Period of the `'interval'` fsync policy. Default `1000` ms. */
  fsyncIntervalMs?: number;
  /** Largest request frame accepted; larger ones close the connection. Default 100 MiB. */
  maxFrameBytes?: number;
  /** Per-partition size above which whole old segments are deleted. Default 256 MiB. */
  retentionBytes?: number;
  /** Age (of a segment's newest record) after which it is deleted. Default 7 days. */
  retentionMs?: number;
  /** Segment size at which a new segment file is started. Default 64 MiB. */
  segmentBytes?: number;
  /** Logger; default a pino logger at `info` (or `$LOG_LEVEL`). */
  logger?: Logger;
}

export interface Broker {
  /** Advertised host. */
  readonly host: string;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** `"host:port"`, ready for `KAFKA_BROKERS`. */
  readonly address: string;
  /** Stops accepting, ends connections, answers parked requests, flushes and fsyncs files. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? pino({ name: 'broker', level: process.env.LOG_LEVEL ?? 'info' });
  const dataDir = options.dataDir ?? null;
  const fsync = options.fsync ?? 'interval';
  const settings: BrokerSettings = {
    dataDir,
    retentionMs: options.retentionMs ?? 7 * 24 * 3600 * 1000,
    retentionBytes: options.retentionBytes ?? 256 * MiB,
    segmentBytes: options.segmentBytes ?? 64 * MiB,
    maxFrameBytes: options.maxFrameBytes ?? 100 * MiB,
    fsync,
    fsyncIntervalMs: options.fsyncIntervalMs ?? 1000,
  };
  const logs = new LogManager({ ...settings, logger });
  const offsets = new OffsetStore(dataDir, fsync === 'always');
  const offsetSync = dataDir && fsync === 'interval' ? setInterval(() => offsets.flush(), settings.fsyncIntervalMs).unref() : null;
  const groups = new GroupCoordinator(offsets, logger);
  const closingListeners = new Set<() => void>();
  let closing = false;

  const ctx: BrokerContext = {
    nodeId: options.nodeId ?? 0,
    // A wildcard bind address is not somewhere a client can connect to; loopback is the useful default.
    advertisedHost: options.advertisedHost ?? (['0.0.0.0', '::', ''].includes(host) ? '127.0.0.1' : host),
    advertisedPort: 0,
    clusterId: 'shop-embedded-broker',
    autoCreateTopics: options.autoCreateTopics ?? true,
    defaultPartitions: options.defaultPartitions ?? 1,
    settings,
    logs,
    offsets,
    groups,
    logger,
    onClosing(cb) {
      if (closing) {
        cb();
        return () => {};
      }
      closingListeners.add(cb);
      return () => closingListeners.delete(cb);
    },
    isClosing: () => closing,
  };

  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();
  const maxFrameBytes = settings.maxFrameBytes;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    try {
      const conn = new Connection(socket, ctx, maxFrameBytes);
      connections.add(conn);
      conn.onClose(() => connections.delete(conn));
    } catch (err) {
      logger.error({ err }, 'failed to set up connection');
      socket.destroy();
    }
  });
  server.on('error', (err) => logger.error({ err }, 'server error'));

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      logs.close();
      offsets.close();
      reject(err);
    };
    server.once('error', onError);
    server.listen(options.port ?? 9092, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (options.port ?? 9092);
  ctx.advertisedPort = port;
  logger.info({ host, port, dataDir, nodeId: ctx.nodeId }, 'broker listening');

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const ls = [...closingListeners];
      closingListeners.clear();
      for (const l of ls) l();
      groups.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Give answered-but-unsent responses (e.g. fetches just woken) a moment to go out.
      await new Promise((r) => setImmediate(r));
      for (const c of connections) c.end();
      const deadline = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 1000);
      await serverClosed;
      clearTimeout(deadline);
      if (offsetSync) clearInterval(offsetSync);
      logs.flushAll();
      logs.close();
      offsets.close();
      logger.info('broker closed');
    })();
    return closed;
  };

  return {
    host: ctx.advertisedHost,
    port,
    address: `${ctx.advertisedHost}:${port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
