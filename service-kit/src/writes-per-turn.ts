import type { Socket } from 'node:net';

/**
 * Returns a function to call before each write to `raw`: the first one in a turn of the event loop corks the
 * socket and the turn's end uncorks it, so the messages of one turn (the pushes of one consumer batch, the
 * subscribes and completes of many clients multiplexed on one connection) leave in one system call. On a
 * virtualised host a write to a loopback socket, with the wake-up it causes at the other end, costs more than
 * building the messages.
 */
export function writesPerTurn(raw: Socket): () => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    raw.uncork();
  };
  return () => {
    if (corked || raw.destroyed) return;
    corked = true;
    raw.cork();
    setImmediate(uncork);
  };
}
