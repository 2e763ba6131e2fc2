import { Redis } from 'ioredis';

/**
 * Which slots a Redis Cluster would spread an order's work over: every command Redis runs (those inside
 * scripts too), seen through MONITOR, counted by the class of the key (or channel) it names first. A class
 * whose keys share one hash tag lands on one master whatever the cluster's size; the others spread. MONITOR
 * costs Redis and this process CPU: use it for the distribution, not in a run whose timings count.
 */
export interface KeyClassMonitor {
  stop(): Promise<Map<string, number>>;
}

/** Key classes by the key's shape, each with whether its keys spread over slots. */
const CLASSES: readonly { name: string; test: RegExp }[] = [
  { name: 'inventory:{stock}:* (one slot)', test: /^inventory:\{stock\}/ },
  { name: 'orders:all (one key)', test: /^orders:all$/ },
  { name: 'orders:catalog (one key)', test: /^orders:catalog$/ },
  { name: 'orders:deadlines:{0..15} (16 slots)', test: /^orders:deadlines:\{/ },
  { name: 'per order: orders:{id}*, order-status:{id}, notifications:by-order:{id}', test: /^(orders:\{|order-status:\{|notifications:by-order:\{)/ },
  { name: 'per customer: orders:by-customer:{c}, notifications:by-customer|unread:{c}, notifications:{c}', test: /^(orders:by-customer:\{|notifications:(by-customer|unread):\{|notifications:\{)/ },
  { name: 'per notification: notifications:n:{id}', test: /^notifications:n:\{/ },
  { name: 'per product channel: stock:{p}', test: /^stock:\{/ },
  { name: 'consumer checkpoints: events:{group:topic:partition}*', test: /^events:\{/ },
  { name: 'gateway rate limits: shop:gateway:* (per client, per address)', test: /^shop:gateway:/ },
];

/** Commands whose first argument is not a key. */
const NO_KEY = new Set(['info', 'ping', 'select', 'client', 'cluster', 'wait', 'script', 'hello', 'multi', 'exec', 'time', 'monitor']);

export function keyClassOf(args: readonly string[]): string {
  const command = args[0]?.toLowerCase() ?? '';
  if (NO_KEY.has(command)) return `no key (${command})`;
  let key: string | undefined;
  if (command === 'evalsha' || command === 'eval') key = Number(args[2]) > 0 ? args[3] : undefined;
  else key = args[1];
  if (key === undefined) return `no key (${command})`;
  return CLASSES.find((c) => c.test.test(key))?.name ?? `other (${key.replace(/\{[^}]*\}/g, '{…}').replace(/[^:{}…]+$/, '…')})`;
}

export async function startKeyClassMonitor(redisUrl: string): Promise<KeyClassMonitor> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  const monitor = await redis.monitor();
  const counts = new Map<string, number>();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const c = keyClassOf(args);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  });
  return {
    async stop() {
      monitor.disconnect();
      redis.disconnect();
      return counts;
    },
  };
}
