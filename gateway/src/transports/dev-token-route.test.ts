import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DEV_SECRETS } from '@shop/service-kit';
import { serveDevToken } from './dev-token-route.js';
import { HS256_AUDIENCE, HS256_ISSUER } from '../config.js';

const signing = { jwtSecret: DEV_SECRETS.jwt, issuer: HS256_ISSUER, audience: HS256_AUDIENCE };

/** Asks the route for a token as a client at `remoteAddress`; returns the status and body it answered. */
async function ask(remoteAddress: string, enabled: boolean, query = 'sub=alice&roles=admin'): Promise<{ status: number; body: Record<string, unknown> }> {
  const req = { url: `/auth/dev-token?${query}`, socket: { remoteAddress } } as unknown as IncomingMessage;
  let status = 0;
  let text = '';
  const res = {
    writeHead(s: number) {
      status = s;
      return this;
    },
    end(t: string) {
      text = t;
      return this;
    },
  } as unknown as ServerResponse;
  await serveDevToken(req, res, { enabled, signing });
  return { status, body: JSON.parse(text) as Record<string, unknown> };
}

describe('the development token endpoint', () => {
  it('is off unless switched on', async () => {
    expect(await ask('127.0.0.1', false)).toEqual({ status: 404, body: { error: 'not found' } });
  });

  it('answers a caller on this machine, over IPv4 and IPv6', async () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const r = await ask(address, true);
      expect(r.status, address).toBe(200);
      expect(typeof r.body.token).toBe('string');
    }
  });

  it('refuses a caller from another host, even when switched on', async () => {
    for (const address of ['10.0.0.7', '192.168.1.20', '::ffff:10.0.0.7', 'fd00::1']) {
      expect(await ask(address, true), address).toEqual({ status: 404, body: { error: 'not found' } });
    }
  });

  it('still checks the subject', async () => {
    expect((await ask('127.0.0.1', true, 'sub=')).status).toBe(400);
  });
});
