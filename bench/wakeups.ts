// What one wake-up costs on this machine: a 200-byte TCP echo between two sockets of this process, sent
// open-loop at each rate for 5 s, CPU per round trip (user + system, all threads). At a low rate every
// message wakes both ends from idle; at a high rate the wake-ups are shared by many messages. The gap
// between the two is what each cross-process hop of the saga pays on this host.
//
//   node --conditions=@shop/source --import tsx bench/wakeups.ts [--rates 200,2000]
import { connect, createServer, type AddressInfo } from 'node:net';
import { stringArg } from './lib/args.js';

const rates = stringArg('rates', '200,2000').split(',').map(Number);
const server = createServer((s) => s.on('data', (d) => s.write(d))).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
await new Promise((r) => client.once('connect', r));
let received = 0;
client.on('data', (d: Buffer) => (received += d.length));
const message = Buffer.alloc(200, 'x');
for (const rate of rates) {
  const total = rate * 5;
  received = 0;
  const cpu0 = process.cpuUsage();
  const start = Date.now();
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    client.write(message);
  }
  const deadline = Date.now() + 10_000;
  while (received < total * message.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const cpu = process.cpuUsage(cpu0);
  console.log(`${rate} round trips/s: ${((cpu.user + cpu.system) / total).toFixed(0)} µs of CPU per round trip`);
}
client.destroy();
server.close();
