import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClientAddresses } from './client-address.js';
import { ClientSlots } from './client-slots.js';

/** What an admitted upgrade carries into its connection. */
export interface Admission {
  readonly clientIp: string;
  /** Gives back the socket's "pending" slot (idempotent): when connection_init is accepted, or at close. */
  readonly releasePending: (() => void) | undefined;
}

export interface UpgradeAdmissionOptions {
  readonly addresses: ClientAddresses;
  /** Sockets without an accepted connection_init, per IP and in all. */
  readonly maxPendingPerIp: number;
  readonly maxPending: number;
  /** Whether the address is over its per-IP rate limit (counts this upgrade). */
  readonly overIpLimit: (clientIp: string) => Promise<boolean>;
  readonly onRefused: (reason: 'ws_pending' | 'ip_rate') => void;
}

/**
 * Decides, before the WebSocket handshake, whether an upgrade may become a socket. Sockets that
 * have not (yet) sent an accepted connection_init cost memory and a timer each (graphql-ws closes
 * them after 3 s): they are capped per IP and in all, and each upgrade counts toward its IP's rate
 * limit. A refused upgrade gets HTTP 429 and no socket.
 */
export class UpgradeAdmission {
  readonly #pending: ClientSlots;
  #pendingTotal = 0;
  readonly #admitted = new WeakMap<IncomingMessage, Admission>();

  constructor(private readonly opts: UpgradeAdmissionOptions) {
    this.#pending = new ClientSlots(opts.maxPendingPerIp);
  }

  /** Calls `upgrade` once the request is admitted; otherwise answers 429 on the raw socket. */
  admit(req: IncomingMessage, socket: Duplex, upgrade: () => void): void {
    const clientIp = this.opts.addresses.of(req);
    if (this.#pendingTotal >= this.opts.maxPending || !this.#pending.take(clientIp)) {
      this.#refuse(socket, 'ws_pending');
      return;
    }
    this.#pendingTotal++;
    let held = true;
    const releasePending = () => {
      if (!held) return;
      held = false;
      this.#pendingTotal--;
      this.#pending.release(clientIp);
    };
    // A handshake that fails, or a socket that closes before connection_init, gives its slot back too.
    socket.once('close', releasePending);
    void this.opts.overIpLimit(clientIp).then((limited) => {
      if (limited) {
        releasePending();
        this.#refuse(socket, 'ip_rate');
        return;
      }
      if (socket.destroyed) return;
      this.#admitted.set(req, { clientIp, releasePending });
      upgrade();
    });
  }

  /** What `req` was admitted with (for the connection it became). */
  admission(req: IncomingMessage): Admission {
    return this.#admitted.get(req) ?? { clientIp: this.opts.addresses.of(req), releasePending: undefined };
  }

  #refuse(socket: Duplex, reason: 'ws_pending' | 'ip_rate'): void {
    this.opts.onRefused(reason);
    socket.end('HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  }
}
