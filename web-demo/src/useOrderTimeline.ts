import { useApolloClient } from '@apollo/client/react';
import { useCallback, useEffect, useRef, useState } from 'react';
import { connection } from './connection.js';
import { describeError, type PlainError } from './errors.js';
import { FINAL_STATUSES, ORDER_STATUS_CHANGED, type OrderStatusChange } from './operations.js';
import { useSession } from './session.js';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'finished' | 'failed';

function storageKey(owner: string, orderId: string): string {
  return `shop-demo.timeline.${owner}.${orderId}`;
}

function loadStored(owner: string, orderId: string): OrderStatusChange[] {
  try {
    const raw = sessionStorage.getItem(storageKey(owner, orderId));
    const parsed = raw ? (JSON.parse(raw) as OrderStatusChange[]) : [];
    return Array.isArray(parsed) ? parsed.filter((c) => c.orderId === orderId && Number.isInteger(c.sequence)) : [];
  } catch {
    return [];
  }
}

function store(owner: string, orderId: string, steps: OrderStatusChange[]): void {
  try {
    sessionStorage.setItem(storageKey(owner, orderId), JSON.stringify(steps));
  } catch {
    // ignore
  }
}

/** The highest n such that sequences 1..n are all known: resuming after it can leave no gap. */
function lastContiguous(steps: readonly OrderStatusChange[]): number {
  let n = 0;
  for (const s of steps) {
    if (s.sequence === n + 1) n = s.sequence;
    else if (s.sequence > n + 1) break;
  }
  return n;
}

function isFinal(steps: readonly OrderStatusChange[]): boolean {
  const last = steps[steps.length - 1];
  return !!last && FINAL_STATUSES.includes(last.status) && last.sequence === lastContiguous(steps);
}

function retryDelay(attempt: number): number {
  const base = Math.min(5_000, 500 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

function clean(c: OrderStatusChange): OrderStatusChange {
  return {
    orderId: c.orderId,
    sequence: c.sequence,
    status: c.status,
    previous: c.previous ?? null,
    reason: c.reason ?? null,
    at: c.at,
  };
}

/**
 * The live status timeline of one order, kept by sequence number.
 * - Starts from what this tab saw before (sessionStorage), so a reload subscribes with `after: <last sequence seen>`.
 * - `merge` also takes `order { history }` from the query; duplicates are dropped by sequence.
 * - When the socket drops, the subscription is started again with `after` = the last contiguous sequence,
 *   so the server replays exactly what was missed.
 */
export function useOrderTimeline(orderId: string, owner: string) {
  const client = useApolloClient();
  const { ws } = useSession();
  const [steps, setSteps] = useState<OrderStatusChange[]>(() => loadStored(owner, orderId));
  const stepsRef = useRef(steps);
  const [live, setLive] = useState<LiveState>(() => (isFinal(steps) ? 'finished' : 'connecting'));
  const [error, setError] = useState<PlainError | null>(null);
  const [lastAfter, setLastAfter] = useState<number | null>(null);

  const merge = useCallback(
    (incoming: readonly OrderStatusChange[]) => {
      const map = new Map(stepsRef.current.map((s) => [s.sequence, s]));
      let changed = false;
      for (const c of incoming) {
        if (c.orderId !== orderId || map.has(c.sequence)) continue;
        map.set(c.sequence, clean(c));
        changed = true;
      }
      if (!changed) return;
      const next = [...map.values()].sort((a, b) => a.sequence - b.sequence);
      stepsRef.current = next;
      store(owner, orderId, next);
      setSteps(next);
      if (isFinal(next)) setLive('finished');
    },
    [orderId, owner],
  );

  useEffect(() => {
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let sub: { unsubscribe(): void } | null = null;

    const stop = () => {
      sub?.unsubscribe();
      sub = null;
      clearTimeout(timer);
    };

    const start = () => {
      stop();
      if (stopped) return;
      if (isFinal(stepsRef.current)) {
        setLive('finished');
        return;
      }
      const after = lastContiguous(stepsRef.current);
      setLastAfter(after);
      if (connection.get().ws === 'connected') setLive('live');
      sub = client
        .subscribe({
          query: ORDER_STATUS_CHANGED,
          variables: after > 0 ? { orderId, after } : { orderId },
          fetchPolicy: 'no-cache',
          context: { queryDeduplication: false },
        })
        .subscribe({
          next: (result) => {
            if (result.data?.orderStatusChanged) {
              attempt = 0;
              setError(null);
              merge([result.data.orderStatusChanged]);
              if (isFinal(stepsRef.current)) {
                setLive('finished');
                stop();
              } else {
                setLive('live');
              }
            }
            if (result.error) fail(result.error);
          },
          error: fail,
          complete: () => {
            if (!stopped && !isFinal(stepsRef.current)) retryLater();
          },
        });
    };

    const retryLater = () => {
      if (stopped) return;
      setLive('reconnecting');
      clearTimeout(timer);
      timer = setTimeout(start, retryDelay(attempt++));
    };

    const fail = (err: unknown) => {
      if (stopped) return;
      const plain = describeError(err, 'order');
      if (plain.kind === 'unauthenticated' || plain.kind === 'forbidden' || plain.kind === 'not-found' || plain.kind === 'input') {
        stop();
        setError(plain);
        setLive('failed');
        return;
      }
      retryLater();
    };

    // A lost socket: graphql-ws reconnects by itself, but would resend the original `after`.
    // Start over with the last sequence we have, so the replay is exactly what was missed.
    const offClosed = ws?.on('closed', (event) => {
      const code = (event as { code?: number } | undefined)?.code;
      if (stopped || code === 1000 || isFinal(stepsRef.current)) return;
      setLive('reconnecting');
      clearTimeout(timer);
      timer = setTimeout(start, 0);
    });
    const offConnected = ws?.on('connected', () => {
      if (!stopped && !isFinal(stepsRef.current)) setLive('live');
    });

    start();
    return () => {
      stopped = true;
      stop();
      offClosed?.();
      offConnected?.();
    };
  }, [client, ws, orderId, merge]);

  return { steps, live, error, merge, lastAfter };
}
