import { badUserInput } from './errors.js';

/** Relay-style page sizes: `first` within 1..max, else BAD_USER_INPUT. */
export function pageSize(first: number | null | undefined, fallback: number, max = 100): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > max) throw badUserInput(`first must be between 1 and ${max}, got ${String(first)}.`);
  return n;
}

/** Opaque cursors: base64url of `<kind>:<position>`; the kind stops a cursor of one list being used on another. */
export function encodeCursor(kind: string, position: string): string {
  return Buffer.from(`${kind}:${position}`, 'utf8').toString('base64url');
}

export function decodeCursor(kind: string, cursor: string | null | undefined): string | null {
  if (cursor === null || cursor === undefined) return null;
  const text = /^[A-Za-z0-9_-]{1,400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!text.startsWith(`${kind}:`) || text.length === kind.length + 1) throw badUserInput(`after: malformed cursor "${cursor}".`);
  return text.slice(kind.length + 1);
}
