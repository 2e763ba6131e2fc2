import type { IncomingMessage, ServerResponse } from 'node:http';
import { signDevToken, type DevTokenSigning } from '../middleware/auth.js';
import { isLoopback } from '../middleware/client-address.js';

const SAFE_SUB = /^[A-Za-z0-9._:@-]{1,128}$/;

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/**
 * `GET /auth/dev-token?sub=alice[&roles=admin]`: a development token for anyone who asks, admin
 * included, so it is served only when switched on (`DEV_TOKENS=true`, which the configuration
 * refuses in production and on a non-loopback HOST) and only to a caller on this machine (a
 * request forwarded by a local proxy still comes from the proxy's address: that is the operator's
 * choice). Otherwise it is a 404, as any unknown path.
 */
export async function serveDevToken(req: IncomingMessage, res: ServerResponse, opts: { enabled: boolean; signing: DevTokenSigning }): Promise<void> {
  if (!opts.enabled || !isLoopback(req.socket.remoteAddress)) {
    json(res, 404, { error: 'not found' });
    return;
  }
  const params = new URL(req.url ?? '/', 'http://gateway').searchParams;
  const sub = params.get('sub') ?? '';
  if (!SAFE_SUB.test(sub)) {
    json(res, 400, { error: 'sub must be 1..128 characters of [A-Za-z0-9._:@-]' });
    return;
  }
  const roles = (params.get('roles') ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  json(res, 200, { token: await signDevToken(opts.signing, sub, roles) }, { 'cache-control': 'no-store' });
}
