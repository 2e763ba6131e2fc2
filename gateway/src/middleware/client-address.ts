import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Whether `address` (an IP, `localhost`, or an IPv4-mapped IPv6 address) is this machine. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.replace(/^::ffff:/i, '');
  return a === 'localhost' || a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** `TRUSTED_PROXIES` entries: an IP (`10.0.0.5`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export function isProxyEntry(entry: string): boolean {
  const [ip, bits, extra] = entry.split('/');
  const family = isIP(ip ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

/**
 * Who a request comes from. The socket's peer, unless that peer is a trusted proxy: then
 * `X-Forwarded-For` is read from the right (each proxy appends the address it saw), skipping
 * trusted proxies, and the first address that is not one is the client. Anything a client wrote
 * into the header itself sits further left and is never reached. Without trusted proxies the
 * header is ignored, so a client cannot pick its own rate-limit bucket.
 */
export class ClientAddresses {
  readonly #trusted = new BlockList();
  readonly #any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const entry of trustedProxies) {
      const [ip, bits] = entry.split('/') as [string, string | undefined];
      const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#trusted.addAddress(ip, type);
      else this.#trusted.addSubnet(ip, Number(bits), type);
    }
    this.#any = trustedProxies.length > 0;
  }

  #isTrusted(address: string): boolean {
    const plain = address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
    const family = isIP(plain);
    return family !== 0 && this.#trusted.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** The client's address for a request or a WebSocket upgrade. */
  of(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? 'unknown';
    if (!this.#any || !this.#isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => h.trim()).filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return peer; // a malformed hop: trust nothing to its left
      if (!this.#isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  }
}
