import { devTokenUrl } from './config.js';

export interface DemoUser {
  id: string;
  label: string;
  roles: readonly string[];
}

export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'alice', label: 'Alice', roles: [] },
  { id: 'bob', label: 'Bob', roles: [] },
  { id: 'admin', label: 'Admin', roles: ['admin'] },
];

export interface Session {
  user: DemoUser;
  token: string;
}

const STORAGE_KEY = 'shop-demo.session';

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (!parsed.token || !parsed.user?.id) return null;
    const user = DEMO_USERS.find((u) => u.id === parsed.user?.id) ?? { id: parsed.user.id, label: parsed.user.id, roles: [] };
    return { user, token: parsed.token };
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  try {
    if (session) localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage may be unavailable (private mode); the session then lasts until reload
  }
}

/** Seconds-since-epoch expiry from a JWT, without verifying it (the gateway does that). */
export function tokenExpiry(token: string): number | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const payload = JSON.parse(json) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp : null;
  } catch {
    return null;
  }
}

export function isTokenExpired(token: string, now = Date.now()): boolean {
  const exp = tokenExpiry(token);
  return exp !== null && exp * 1000 <= now;
}

export class SignInError extends Error {
  constructor(
    message: string,
    readonly network: boolean,
  ) {
    super(message);
    this.name = 'SignInError';
  }
}

/** Asks the gateway (development only) for a token for a demo user. */
export async function fetchDevToken(user: DemoUser): Promise<string> {
  let res: Response;
  try {
    res = await fetch(devTokenUrl(user.id, user.roles), { headers: { accept: 'application/json' } });
  } catch {
    throw new SignInError("Can't reach the server to sign in. Is the gateway running?", true);
  }
  if (!res.ok) {
    throw new SignInError(
      res.status === 403 || res.status === 404
        ? 'Demo sign-in is turned off on this server (development tokens are only issued outside production).'
        : `Sign-in failed (the server answered ${res.status}).`,
      false,
    );
  }
  const body = (await res.json()) as { token?: unknown };
  if (typeof body.token !== 'string' || !body.token) throw new SignInError('Sign-in failed: the server sent no token.', false);
  return body.token;
}
