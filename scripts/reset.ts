// `npm run reset`: wipes local data (orders, stock, Kafka log, logs) kept under .data/ by `npm start`.
import { existsSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_PORTS } from '@shop/service-kit';
import { REPO_ROOT } from './lib/system.js';

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

if ((await listening(DEFAULT_PORTS.kafka)) || (await listening(DEFAULT_PORTS.redis))) {
  console.error('The system seems to be running (ports 9092/6390 answer). Stop `npm start` first.');
  process.exit(1);
}
const dataDir = join(REPO_ROOT, '.data');
if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
console.log(`Removed ${dataDir}: the next \`npm start\` begins with the seed catalog and no orders.`);
