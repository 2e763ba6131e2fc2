import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { DEFAULT_PORTS } from '@shop/service-kit';
import { freePort, httpOk, SERVICE_NODE_ARGS, spawnManaged, tcpOk, TSX_NODE_ARGS, waitUntil, type ManagedProcess } from './processes.js';
import { clusterInfo, startRedisCluster } from './redis-cluster.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export type SubgraphName = 'orders' | 'inventory' | 'notifications';
export const SUBGRAPHS: readonly SubgraphName[] = ['orders', 'inventory', 'notifications'];

export interface LaunchOptions {
  /** Where the broker log, Redis files and process logs go. */
  dataDir: string;
  /** Use this Redis instead of starting `redis-server`. */
  redisUrl?: string;
  /**
   * Run on a Redis Cluster: `host:port` seed nodes of one already running (comma-separated), or `start` one
   * here (3 masters, 1 replica each: processes `redis-1` … `redis-6`). Every service gets REDIS_CLUSTER_NODES.
   */
  redisCluster?: string | { masters?: number; replicasPerMaster?: number };
  /** Use these Kafka brokers (comma-separated) instead of starting the embedded broker. */
  kafkaBrokers?: string;
  /** Fixed ports (npm start); when omitted every port is a free one the OS picked (tests). */
  fixedPorts?: boolean;
  /** Replicas per subgraph (chaos tests run 2); each gets its own port. Default 1. */
  replicas?: Partial<Record<SubgraphName, number>>;
  /** Gateways to start (chaos tests run 2). Default 1. */
  gateways?: number;
  /** Extra environment for every service (e.g. `SAGA_DEADLINE_MS`). */
  env?: Record<string, string>;
  /** Start the web demo's Vite server. Default false. */
  webDemo?: boolean;
  /** Redis persistence: AOF on (npm start, chaos) or nothing on disk (tests). Default false. */
  redisAppendOnly?: boolean;
  /** Echo every service's output to stdout. */
  echo?: boolean;
  /** Called as each part becomes ready. */
  onReady?: (name: string, detail: string) => void;
}

export interface RunningSystem {
  readonly redisUrl: string;
  /** The Redis Cluster's nodes (`host:port`) when the system runs on one. */
  readonly redisClusterNodes?: readonly string[];
  readonly kafkaBrokers: string;
  /** First gateway's GraphQL URL. */
  readonly gatewayUrl: string;
  readonly gatewayUrls: readonly string[];
  readonly subgraphUrls: Readonly<Record<SubgraphName, readonly string[]>>;
  readonly webDemoUrl: string | undefined;
  /** Every process by name: `redis` (or `redis-1` … on a cluster), `broker`, `orders-1`, `gateway-1`, `web-demo`. */
  readonly processes: ReadonlyMap<string, ManagedProcess>;
  /** Waits until the named service answers its readiness check again (after a restart). */
  waitReady(name: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

/** How services run: from their TypeScript sources through tsx (development, tests), or compiled (`npm run build`). */
export type Runtime = 'tsx' | 'compiled';

/** Node arguments that start the entry point `path` (e.g. `gateway/src/main.ts`); compiled, its `dist/main.js` twin. */
export function serviceEntry(path: string, runtime: Runtime = 'tsx'): string[] {
  if (runtime === 'tsx') return [...SERVICE_NODE_ARGS, ...TSX_NODE_ARGS, join(REPO_ROOT, path)];
  return [...SERVICE_NODE_ARGS, join(REPO_ROOT, path.replace('/src/', '/dist/').replace(/\.ts$/, '.js'))];
}

/**
 * Starts the whole system as separate processes: redis-server and the embedded broker (unless
 * external ones are given), the subgraphs, the gateway(s) and optionally the web demo. Shared by
 * `npm start` and the end-to-end, browser and chaos tests, so they all run what users run.
 */
export async function launchSystem(opts: LaunchOptions): Promise<RunningSystem> {
  const dataDir = resolve(opts.dataDir);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const processes = new Map<string, ManagedProcess>();
  const readiness = new Map<string, () => Promise<boolean>>();
  const port = async (fixed: number) => (opts.fixedPorts ? fixed : freePort());
  const note = (name: string, detail: string) => opts.onReady?.(name, detail);
  const baseEnv = { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...opts.env };

  const launch = (name: string, args: string[], env: Record<string, string>, cwd = REPO_ROOT) => {
    const proc = spawnManaged({
      name,
      command: process.execPath,
      args,
      env: { ...baseEnv, ...env },
      cwd,
      logFile: join(logDir, `${name}.log`),
      echo: opts.echo,
    });
    processes.set(name, proc);
    return proc;
  };

  const stop = async () => {
    // Reverse start order: clients first, so nothing logs errors about a vanished dependency.
    const order = [...processes.values()].reverse();
    const layers = [
      order.filter((p) => p.name === 'web-demo' || p.name.startsWith('gateway')),
      order.filter((p) => SUBGRAPHS.some((s) => p.name.startsWith(s))),
      order.filter((p) => p.name === 'broker' || p.name === 'redis' || /^redis-\d+$/.test(p.name)),
    ];
    for (const layer of layers) await Promise.all(layer.map((p) => p.stop()));
  };

  try {
    // 1. Redis and Kafka.
    let redisUrl = opts.redisUrl;
    let redisStart: Promise<void> = Promise.resolve();
    let redisClusterNodes: string[] | undefined = typeof opts.redisCluster === 'string' ? opts.redisCluster.split(',').map((n) => n.trim()).filter(Boolean) : undefined;
    if (typeof opts.redisCluster === 'object') {
      const cluster = await startRedisCluster({ ...opts.redisCluster, dataDir: join(dataDir, 'redis'), logDir, appendOnly: opts.redisAppendOnly, echo: opts.echo });
      for (const [i, proc] of cluster.processes.entries()) {
        processes.set(proc.name, proc);
        const node = cluster.nodes[i]!;
        readiness.set(proc.name, async () => (await clusterInfo(node))?.cluster_state === 'ok');
      }
      redisClusterNodes = [...cluster.nodes];
      note('redis-cluster', redisClusterNodes.join(','));
    }
    // Services still get a REDIS_URL (a cluster node) for tools that read it; REDIS_CLUSTER_NODES wins.
    if (redisClusterNodes) redisUrl ??= `redis://${redisClusterNodes[0]}`;
    const clusterEnv: Record<string, string> = redisClusterNodes ? { REDIS_CLUSTER_NODES: redisClusterNodes.join(',') } : {};
    if (!redisUrl) {
      if (!existsSync('/usr/bin/redis-server') && !onPath('redis-server')) {
        throw new Error('redis-server is not installed. Install it with: sudo apt-get install -y redis-server (or set REDIS_URL).');
      }
      const redisPort = await port(DEFAULT_PORTS.redis);
      const redisDir = join(dataDir, 'redis');
      mkdirSync(redisDir, { recursive: true });
      const args = ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', ''];
      // everysec is also Redis's default; said here because the chaos tier's Redis crash depends on it.
      args.push('--appendonly', opts.redisAppendOnly ? 'yes' : 'no', '--appendfsync', 'everysec');
      const proc = spawnManaged({ name: 'redis', command: 'redis-server', args, logFile: join(logDir, 'redis.log'), echo: opts.echo });
      processes.set('redis', proc);
      redisUrl = `redis://127.0.0.1:${redisPort}`;
      const url = redisUrl;
      readiness.set('redis', () => redisPing(url));
      redisStart = waitUntil('redis-server', () => redisPing(url), READY_TIMEOUT_MS).then(() => note('redis', url));
    }
    let kafkaBrokers = opts.kafkaBrokers;
    let brokerStart: Promise<void> = Promise.resolve();
    if (!kafkaBrokers) {
      const kafkaPort = await port(DEFAULT_PORTS.kafka);
      const args = [...serviceEntry('events/src/broker/cli.ts'), '--port', String(kafkaPort), '--data-dir', join(dataDir, 'kafka')];
      const proc = launch('broker', args, {});
      kafkaBrokers = `127.0.0.1:${kafkaPort}`;
      const brokers = kafkaBrokers;
      // So `waitReady('broker')` works after a restart too (chaos tests kill and restart it on the same port).
      readiness.set('broker', () => tcpOk('127.0.0.1', kafkaPort));
      brokerStart = proc.waitForOutput(/listening on (\S+)/, READY_TIMEOUT_MS).then(() => note('broker', brokers));
    }
    await Promise.all([redisStart, brokerStart]);

    // 2. Subgraphs (each replica on its own port).
    const subgraphUrls = { orders: [], inventory: [], notifications: [] } as Record<SubgraphName, string[]>;
    const waits: Promise<void>[] = [];
    for (const name of SUBGRAPHS) {
      const replicas = opts.replicas?.[name] ?? 1;
      for (let i = 1; i <= replicas; i++) {
        const p = await port(DEFAULT_PORTS[name] + (i - 1) * 10);
        const procName = `${name}-${i}`;
        launch(procName, serviceEntry(`subgraphs/${name}/src/main.ts`), {
          PORT: String(p),
          HOST: '127.0.0.1',
          REDIS_URL: redisUrl,
          ...clusterEnv,
          KAFKA_BROKERS: kafkaBrokers,
        });
        const base = `http://127.0.0.1:${p}`;
        subgraphUrls[name].push(`${base}/graphql`);
        readiness.set(procName, () => httpOk(`${base}/readyz`));
        waits.push(waitReady(procName));
      }
    }
    await Promise.all(waits);

    // 3. Gateways, each given every replica of every subgraph (it spreads its calls over them and fails over).
    const gatewayUrls: string[] = [];
    const gatewayCount = opts.gateways ?? 1;
    const webPort = opts.webDemo ? await port(DEFAULT_PORTS.webDemo) : undefined;
    const corsOrigins = webPort ? `http://127.0.0.1:${webPort},http://localhost:${webPort}` : '';
    const gwWaits: Promise<void>[] = [];
    for (let i = 1; i <= gatewayCount; i++) {
      const p = await port(DEFAULT_PORTS.gateway + (i - 1) * 10);
      const procName = `gateway-${i}`;
      const all = (name: SubgraphName) => subgraphUrls[name].join(',');
      launch(procName, serviceEntry('gateway/src/main.ts'), {
        PORT: String(p),
        HOST: '127.0.0.1',
        REDIS_URL: redisUrl,
        ...clusterEnv,
        ORDERS_URL: all('orders'),
        INVENTORY_URL: all('inventory'),
        NOTIFICATIONS_URL: all('notifications'),
        // npm start and the tests take their tokens from /auth/dev-token, which is off unless asked for.
        DEV_TOKENS: 'true',
        ...(corsOrigins ? { CORS_ORIGINS: corsOrigins } : {}),
      });
      gatewayUrls.push(`http://127.0.0.1:${p}/graphql`);
      readiness.set(procName, () => httpOk(`http://127.0.0.1:${p}/readyz`));
      gwWaits.push(waitReady(procName));
    }

    // 4. The web demo, talking to the first gateway.
    let webDemoUrl: string | undefined;
    if (webPort) {
      const vite = join(REPO_ROOT, 'node_modules/vite/bin/vite.js');
      launch('web-demo', [vite, '--port', String(webPort), '--strictPort', '--host', '127.0.0.1'], { VITE_GATEWAY_URL: gatewayUrls[0]! }, join(REPO_ROOT, 'web-demo'));
      webDemoUrl = `http://127.0.0.1:${webPort}/`;
      const url = webDemoUrl;
      readiness.set('web-demo', () => httpOk(url));
      gwWaits.push(waitReady('web-demo'));
    }
    await Promise.all(gwWaits);

    return {
      redisUrl,
      ...(redisClusterNodes ? { redisClusterNodes } : {}),
      kafkaBrokers,
      gatewayUrl: gatewayUrls[0]!,
      gatewayUrls,
      subgraphUrls,
      webDemoUrl,
      processes,
      waitReady,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }

  async function waitReady(name: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const proc = processes.get(name);
    const check = readiness.get(name);
    if (!proc || !check) throw new Error(`unknown service ${name}`);
    const died = proc.exited().then((code) => {
      throw new Error(`${name} exited with code ${code} while starting (log: ${proc.logFile})`);
    });
    await Promise.race([
      waitUntil(name, check, timeoutMs).catch((err: Error) => {
        throw new Error(`${err.message} (log: ${proc.logFile})`);
      }),
      died,
    ]);
    note(name, proc.logFile);
  }
}

/** A development token from a gateway's `/auth/dev-token` (served when DEV_TOKENS=true, as `launchSystem` sets it). */
export async function devToken(gatewayUrl: string, sub: string, roles: readonly string[] = []): Promise<string> {
  const url = new URL('/auth/dev-token', gatewayUrl);
  url.searchParams.set('sub', sub);
  if (roles.length) url.searchParams.set('roles', roles.join(','));
  const res = await fetch(url);
  if (!res.ok) throw new Error(`dev token: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** True when a Redis at `url` answers PING now (one short-lived connection). */
export async function redisPing(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function onPath(binary: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':');
  return dirs.some((d) => d && existsSync(join(d, binary)));
}
