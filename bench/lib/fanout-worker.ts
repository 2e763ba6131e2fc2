/**
 * One client process of the fan-out benchmark (bench/fanout.ts): hosts its share of the graphql-ws
 * clients (the `graphql-ws` library's `createClient` over `ws`, one socket each) and does only what
 * the coordinator asks over the IPC channel. Started by the coordinator with child_process `fork`:
 *
 *   node --conditions=@shop/source --import tsx bench/lib/fanout-worker.ts     (with an IPC channel; not meant to be run by hand)
 *
 * Every time is absolute, `performance.timeOrigin + performance.now()` in ms, so that receipts in
 * different processes compare with each other and with the coordinator's clock. Receipt times go
 * back in one message at the end (`collect`), not one message per receipt. The worker exits when the
 * coordinator goes away (IPC disconnect) or on SIGTERM (the coordinator stops it by pid).
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { fdLimit, now, type Collected, type FromWorker, type OpenResult, type ToWorker, type WorkerRequests } from './fanout-protocol.js';

interface StatusEvent {
  orderId: string;
  sequence: number;
  status: string;
  order?: { lines: { product: { name: string } | null }[] } | null;
}

function describe(err: unknown): string {
  if (Array.isArray(err)) return err.map((e: { message?: string }) => e?.message ?? String(e)).join('; ');
  if (err && typeof err === 'object' && 'code' in err) {
    const e = err as { code: unknown; reason?: unknown };
    return `closed ${String(e.code)}${e.reason ? ` ${String(e.reason)}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Resolves with the value, or undefined after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runWorker(): void {
  const send = (msg: FromWorker) => {
    if (!process.connected) return;
    process.send!(msg, undefined, undefined, () => undefined);
  };

  let config: WorkerRequests['init']['req'] | undefined;
  let clients: Client[] = [];
  let readyAt = new Float64Array(0);
  let deliveredAt = new Float64Array(0);
  let opened = 0;
  let ready = 0;
  let failed = 0;
  let delivered = 0;
  let incomplete = 0;
  let disposing = false;
  let armed = false;
  let cpu0: NodeJS.CpuUsage | undefined;
  let cpuToLastReceiptMs = NaN;
  let deliveredSent = false;
  const errors = new Map<string, number>();
  const errorList = () => [...errors].slice(0, 20);
  const cpuSinceArmMs = () => {
    const c = process.cpuUsage(cpu0);
    return (c.user + c.system) / 1000;
  };

  const checkDelivered = () => {
    if (!armed || deliveredSent || delivered < ready) return;
    deliveredSent = true;
    cpuToLastReceiptMs = cpuSinceArmMs();
    send({ type: 'delivered', at: now(), delivered, ready, cpuMs: cpuToLastReceiptMs });
  };

  const open = (i: number, cfg: NonNullable<typeof config>) =>
    new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        resolve(ok);
      };
      const fail = (err: unknown) => {
        if (disposing) return;
        if (!settled || !deliveredAt[i]) {
          const key = describe(err).slice(0, 200);
          errors.set(key, (errors.get(key) ?? 0) + 1);
        }
        if (!settled) failed++;
        settle(false);
      };
      const client = createClient({
        url: cfg.wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${cfg.token}` },
        retryAttempts: 0,
        lazy: true,
        // Keep the socket when the server completes the subscription after the final status, so
        // the closing handshakes do not compete with the receipts still being measured.
        lazyCloseTimeout: 120_000,
      });
      clients[i] = client;
      opened++;
      client.subscribe<{ orderStatusChanged: StatusEvent }>(
        { query: cfg.subscription, variables: { orderId: cfg.orderId } },
        {
          next: (value) => {
            const event = value.data?.orderStatusChanged;
            if (!event) return fail(value.errors ?? 'an event without data');
            if (!readyAt[i]) {
              readyAt[i] = now();
              ready++;
              settle(true);
            }
            if (event.status === 'CANCELLED' && armed && !deliveredAt[i]) {
              deliveredAt[i] = now();
              if (cfg.checkProductNames && !event.order?.lines.every((l) => l.product?.name)) incomplete++;
              delivered++;
              checkDelivered();
            }
          },
          error: fail,
          complete: () => settle(!!readyAt[i]),
        },
      );
    });

  const handle = async (msg: ToWorker): Promise<unknown> => {
    switch (msg.type) {
      case 'init': {
        const { type: _t, id: _id, ...cfg } = msg;
        config = cfg;
        clients = new Array<Client>(cfg.capacity);
        readyAt = new Float64Array(cfg.capacity);
        deliveredAt = new Float64Array(cfg.capacity);
        return { now: now() } satisfies WorkerRequests['init']['res'];
      }
      case 'ping':
        return { now: now() } satisfies WorkerRequests['ping']['res'];
      case 'open': {
        const cfg = config;
        if (!cfg) throw new Error('open before init');
        if (opened + msg.count > cfg.capacity) throw new Error(`capacity ${cfg.capacity} exceeded`);
        const batch: Promise<boolean>[] = [];
        for (let k = 0; k < msg.count; k++) batch.push(open(opened, cfg));
        const results = await withTimeout(Promise.all(batch), msg.timeoutMs);
        const ok = results ? results.filter(Boolean).length : 0;
        return { ok, bad: msg.count - ok, timedOut: !results, opened, ready, failed, errors: errorList() } satisfies OpenResult;
      }
      case 'arm':
        cpu0 = process.cpuUsage();
        armed = true;
        // A worker with no subscribed client has nothing to wait for.
        queueMicrotask(checkDelivered);
        return { now: now(), ready } satisfies WorkerRequests['arm']['res'];
      case 'collect':
        return {
          opened,
          ready,
          failed,
          delivered,
          incomplete,
          readyAt: readyAt.slice(0, opened),
          deliveredAt: deliveredAt.slice(0, opened),
          cpuToLastReceiptMs,
          cpuToCollectMs: armed ? cpuSinceArmMs() : NaN,
          errors: errorList(),
        } satisfies Collected;
      case 'leave': {
        disposing = true;
        const chunk = Math.max(1, Math.floor(msg.chunk));
        for (let i = 0; i < opened; i++) {
          void clients[i]?.dispose();
          if (i % chunk === chunk - 1) await sleep(msg.pauseMs);
        }
        return { left: opened } satisfies WorkerRequests['leave']['res'];
      }
    }
  };

  process.on('message', (msg: ToWorker) => {
    handle(msg).then(
      (body) => send({ type: 'reply', id: msg.id, body }),
      (err: unknown) => send({ type: 'reply', id: msg.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  // The coordinator stops workers by pid (SIGTERM); the sockets close with the process. Ctrl-C
  // reaches the whole foreground group: leave it to the coordinator, which stops us in order.
  process.on('SIGINT', () => undefined);
  process.once('SIGTERM', () => {
    disposing = true;
    process.exit(0);
  });
  // A coordinator that went away (killed, crashed) must not leave clients holding the gateway's sockets.
  process.once('disconnect', () => {
    disposing = true;
    process.exit(0);
  });
  send({ type: 'hello', pid: process.pid, now: now(), fdLimit: { soft: fdLimit(), hard: fdLimit(true) } });
}

if (!process.send) {
  console.error('fanout-worker: started without an IPC channel; bench/fanout.ts forks it');
  process.exit(2);
}
runWorker();
