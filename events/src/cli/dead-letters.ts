/**
 * Lists and re-drives dead letters.
 *
 *   npm run dead-letters -- list [--topic shop.orders] [--limit 50] [--json]
 *   npm run dead-letters -- redrive --topic shop.orders (--offset N [--partition P] | --all)
 *
 * `--offset`/`--partition` name the record's position in the dead-letter topic, as `list` prints it.
 * Environment: KAFKA_BROKERS (default 127.0.0.1:9092, comma-separated), REDIS_URL (default
 * redis://127.0.0.1:6390; needed by redrive to remember what it re-drove, optional for list) or REDIS_CLUSTER_NODES
 * (host:port,…: a Redis Cluster instead).
 * Exit codes: 0 done, 1 failed (unreachable broker/Redis, no such dead letter), 2 bad usage.
 */
import { runDeadLettersCli } from './dead-letters-command.js';

process.exitCode = await runDeadLettersCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
