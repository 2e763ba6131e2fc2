import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ClientAddresses, isLoopback, isProxyEntry } from './client-address.js';

const req = (peer: string, forwarded?: string) => ({ socket: { remoteAddress: peer }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } }) as unknown as IncomingMessage;

describe('client addresses', () => {
  it('without trusted proxies, is the peer whatever X-Forwarded-For says', () => {
    const addresses = new ClientAddresses([]);
    expect(addresses.of(req('198.51.100.4', '203.0.113.9'))).toBe('198.51.100.4');
  });

  it('believes X-Forwarded-For only from a trusted proxy, read from the right', () => {
    const addresses = new ClientAddresses(['10.0.0.0/8', '192.168.1.5', 'fd00::/8']);
    expect(addresses.of(req('10.1.2.3', '203.0.113.9'))).toBe('203.0.113.9');
    expect(addresses.of(req('::ffff:10.1.2.3', '203.0.113.9'))).toBe('203.0.113.9');
    // The client wrote its own entry first; the proxies appended what they saw.
    expect(addresses.of(req('10.1.2.3', '6.6.6.6, 203.0.113.9, 192.168.1.5'))).toBe('203.0.113.9');
    expect(addresses.of(req('fd00::2', '2001:db8::1'))).toBe('2001:db8::1');
    // An untrusted peer's header is ignored.
    expect(addresses.of(req('198.51.100.4', '203.0.113.9'))).toBe('198.51.100.4');
    // No header, or garbage in it: the peer.
    expect(addresses.of(req('10.1.2.3'))).toBe('10.1.2.3');
    expect(addresses.of(req('10.1.2.3', 'not-an-ip'))).toBe('10.1.2.3');
  });

  it('reads loopback and proxy entries', () => {
    expect(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', undefined].some(isLoopback)).toBe(false);
    expect(['10.0.0.0/8', '192.168.1.5', 'fd00::/8', '::1'].every(isProxyEntry)).toBe(true);
    expect(['10.0.0.0/33', 'proxy.local', '10.0.0.0/8/1', '10.0.0.0/x'].some(isProxyEntry)).toBe(false);
  });
});
