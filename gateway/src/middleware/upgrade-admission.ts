import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClientAddresses } from './client-address.js';
import { ClientSlots } from './client-slots.js';

/** What an admitted upgrade carries into its connection. */
export interface Admission {
  readonly clientIp: string;
  /** The socket's "pending" slot, given back when connection_init is accepted, or at close. */
  readonly pending: PendingSlot | undefined;
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
    // Not a closure here: it would share this call's scope, and so keep the upgrade request and its
    // head buffer (about 2 KB) for as long as the socket lives.
    const pending = new PendingSlot(this, clientIp, socket);
    void this.opts.overIpLimit(clientIp).then((limited) => {
      if (limited) {
        pending.release();
        this.#refuse(socket, 'ip_rate');
        return;
      }
      if (socket.destroyed) return;
      this.#admitted.set(req, { clientIp, pending });
      upgrade();
    });
  }

  /** What `req` was admitted with (for the connection it became). */
  admission(req: IncomingMessage): Admission {
    return this.#admitted.get(req) ?? { clientIp: this.opts.addresses.of(req), pending: undefined };
  }

  /** Called once per slot, by the slot. */
  releasePending(clientIp: string): void {
    this.#pendingTotal--;
    this.#pending.release(clientIp);
  }

  #refuse(socket: Duplex, reason: 'ws_pending' | 'ip_rate'): void {
    this.opts.onRefused(reason);
    socket.end('HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  }
}

/**
 * One socket's place among those without an accepted connection_init. A handshake that fails, or a
 * socket that closes first, gives it back too; `release` is idempotent and lets go of the socket.
 */
export class PendingSlot {
  #owner: UpgradeAdmission | undefined;
  readonly #clientIp: string;
  readonly #socket: Duplex;
  readonly #onClose: () => void;

  constructor(owner: UpgradeAdmission, clientIp: string, socket: Duplex) {
    this.#owner = owner;
    this.#clientIp = clientIp;
    this.#socket = socket;
    this.#onClose = () => this.release();
    socket.once('close', this.#onClose);
  }

  release(): void {
    const owner = this.#owner;
    if (!owner) return;
    this.#owner = undefined;
    this.#socket.off('close', this.#onClose);
    owner.releasePending(this.#clientIp);
  }
}
