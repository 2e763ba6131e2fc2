// `npm start`: the whole system on this machine, in the foreground, until Ctrl-C.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { devToken, launchSystem, REPO_ROOT } from './lib/system.js';

const dataDir = join(REPO_ROOT, '.data');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

console.log('Starting the shop: redis, Kafka broker, subgraphs, gateway, web demo…');
if (process.env.REDIS_URL) console.log(`  using REDIS_URL=${process.env.REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')}`);
if (process.env.REDIS_CLUSTER_NODES) console.log(`  using the Redis Cluster at REDIS_CLUSTER_NODES=${process.env.REDIS_CLUSTER_NODES}`);
if (process.env.KAFKA_BROKERS) console.log(`  using KAFKA_BROKERS=${process.env.KAFKA_BROKERS}`);

let system: Awaited<ReturnType<typeof launchSystem>>;
try {
  system = await launchSystem({
    dataDir,
    redisUrl: process.env.REDIS_URL || undefined,
    redisCluster: process.env.REDIS_CLUSTER_NODES || undefined,
    kafkaBrokers: process.env.KAFKA_BROKERS || undefined,
    fixedPorts: true,
    webDemo: process.env.WEB_DEMO !== 'false',
    redisAppendOnly: true,
    echo: process.env.VERBOSE === '1',
    onReady: (name, detail) => console.log(`  ✓ ${name.padEnd(16)} ${elapsed().padStart(6)}  ${detail}`),
  });
} catch (err) {
  console.error(`\n✗ ${(err as Error).message}`);
  const log = /\(log: ([^)]+)\)/.exec((err as Error).message)?.[1];
  if (log) {
    console.error(`\n--- last lines of ${log} ---`);
    console.error(readFileSync(log, 'utf8').split('\n').slice(-30).join('\n'));
  }
  process.exit(1);
}

const gatewayOrigin = new URL(system.gatewayUrl).origin.replace('127.0.0.1', 'localhost');
let token = '(fetch one at /auth/dev-token?sub=alice)';
try {
  token = await devToken(system.gatewayUrl, 'alice');
} catch {
  // The token is a convenience; the system runs without it.
}

console.log(`
ready in ${elapsed()}
  Web demo          ${system.webDemoUrl?.replace('127.0.0.1', 'localhost') ?? '(off)'}
  Gateway+Sandbox   ${gatewayOrigin}/graphql
  Dev token (alice) ${token}
  Logs              ${join(dataDir, 'logs')}
Press Ctrl-C to stop.`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping…`);
  await system.stop();
  console.log('stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

// A service that dies while running is reported, not silently missing.
for (const proc of system.processes.values()) {
  void proc.exited().then((code) => {
    if (!stopping) console.error(`✗ ${proc.name} exited with code ${code}; see ${proc.logFile}`);
  });
}
