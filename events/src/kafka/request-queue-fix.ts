import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 keeps a 1 ms timer running on every broker connection forever (kafkajs#1556, fix
 * proposed in kafkajs#1667, never released): `scheduleCheckPendingRequests` arms a timer even when
 * nothing is pending and no throttle is active, and the timer's callback arms the next one. An
 * idle service spent 3–6 % of a core on it. This replaces that one method with the proposed fix:
 * a check is scheduled only when requests are waiting (throttled or not), exactly as before for
 * them. The class is located through kafkajs' own package so the same copy is patched.
 */
interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs' own retry interval for pending requests (CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

let applied = false;

export function fixKafkajsIdleTimer(): void {
  if (applied) return;
  applied = true;
  const require = createRequire(import.meta.url);
  const RequestQueueClass = require(require.resolve('kafkajs/src/network/requestQueue/index.js')) as { prototype: RequestQueue };
  RequestQueueClass.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueue) {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const throttledFor = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS,
    );
  };
}
