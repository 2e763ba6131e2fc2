import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnManaged, waitUntil, type ManagedProcess } from './processes.js';

export interface RedisClusterOptions {
  /** Where each node keeps its files (`<dataDir>/redis-<n>`: nodes.conf, AOF). */
  readonly dataDir: string;
  readonly logDir: string;
  /** Default 3 (the smallest cluster redis-cli creates). */
  readonly masters?: number;
  /** Replicas of each master; default 1. */
  readonly replicasPerMaster?: number;
  /** AOF on (appendfsync everysec, Redis's default). Default false. */
  readonly appendOnly?: boolean;
  /**
   * How long a master may be unreachable before its replica is promoted (cluster-node-timeout). Default 2 s:
   * short, so a test sees a failover within seconds; production keeps Redis's 15 s.
   */
  readonly nodeTimeoutMs?: number;
  readonly echo?: boolean;
}

export interface RedisCluster {
  /** Every node as `host:port`, in start order (`redis-1` is the first). */
  readonly nodes: readonly string[];
  /** The processes, named `redis-1` … `redis-<n>`. */
  readonly processes: readonly ManagedProcess[];
}

/**
 * Starts a Redis Cluster on 127.0.0.1 free ports: `masters × (1 + replicasPerMaster)` redis-server processes
 * with `--cluster-enabled yes`, joined by `redis-cli --cluster create … --cluster-replicas`, and waits until
 * every node reports `cluster_state:ok`. Each node is a managed process (stopped by pid).
 */
export async function startRedisCluster(opts: RedisClusterOptions): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const count = masters * (1 + replicas);
  const processes: ManagedProcess[] = [];
  const nodes: string[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const port = await freePort();
      const dir = join(opts.dataDir, `redis-${i}`);
      mkdirSync(dir, { recursive: true });
      const args = [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
        '--appendonly', opts.appendOnly ? 'yes' : 'no', '--appendfsync', 'everysec',
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2_000),
      ];
      processes.push(spawnManaged({ name: `redis-${i}`, command: 'redis-server', args, logFile: join(opts.logDir, `redis-${i}.log`), echo: opts.echo }));
      nodes.push(`127.0.0.1:${port}`);
    }
    await Promise.all(nodes.map((n) => waitUntil(`redis-server ${n}`, () => clusterInfo(n).then((info) => info !== null), 30_000, 50)));
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status}): ${create.stdout}\n${create.stderr}`);
    await waitUntil('the Redis Cluster to be ok on every node', async () => (await Promise.all(nodes.map(clusterInfo))).every((i) => i?.cluster_state === 'ok'), 60_000, 200);
    return { nodes, processes };
  } catch (err) {
    await Promise.all(processes.map((p) => p.stop(1_000)));
    throw err;
  }
}

/** `CLUSTER INFO` of one node as fields (null when it does not answer). */
export async function clusterInfo(node: string): Promise<Record<string, string> | null> {
  const reply = await nodeCommand(node, ['CLUSTER', 'INFO']);
  if (reply === null) return null;
  return Object.fromEntries(
    reply
      .split(/\r?\n/)
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
}

/** The masters as one node sees them right now: `host:port` of each master that is not failing. */
export async function clusterMasters(node: string): Promise<string[]> {
  const reply = await nodeCommand(node, ['CLUSTER', 'NODES']);
  if (reply === null) return [];
  return reply
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length > 2 && f[2]!.split(',').includes('master') && !f[2]!.includes('fail'))
    .map((f) => f[1]!.split('@')[0]!);
}

/** One command on one node over a short-lived connection; null when the node does not answer. */
async function nodeCommand(node: string, command: string[]): Promise<string | null> {
  const [host, port] = node.split(':');
  const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return String(await redis.call(command[0]!, ...command.slice(1)));
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}
