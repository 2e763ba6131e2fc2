import type { Logger } from 'pino';
import type { GroupCoordinator } from './group/coordinator.js';
import type { OffsetStore } from './group/offset-store.js';
import type { FsyncPolicy, LogManager } from './log/log-manager.js';

/** Effective settings, as DescribeConfigs reports them (handlers/configs.ts maps them to Kafka's names). */
export interface BrokerSettings {
  dataDir: string | null;
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  maxFrameBytes: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
}

/** What request handlers share: the broker's identity, its stores and its lifecycle. */
export interface BrokerContext {
  nodeId: number;
  /** Host and port clients are told to connect to (Metadata, FindCoordinator). */
  advertisedHost: string;
  advertisedPort: number;
  clusterId: string;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  settings: BrokerSettings;
  logs: LogManager;
  offsets: OffsetStore;
  groups: GroupCoordinator;
  logger: Logger;
  /** Calls `cb` once the broker starts closing, so parked requests answer right away; returns an unsubscribe. */
  onClosing(cb: () => void): () => void;
  isClosing(): boolean;
}

/** Per-connection facts some handlers need. */
export interface ConnectionInfo {
  clientId: string;
  clientHost: string;
  /** Calls `cb` when the connection goes away, so a parked fetch stops waiting for nobody. */
  onClose(cb: () => void): () => void;
  isClosed(): boolean;
}
