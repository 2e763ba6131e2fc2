import { CombinedGraphQLErrors, ServerError, ServerParseError } from '@apollo/client';

export type ErrorKind =
  | 'unauthenticated'
  | 'forbidden'
  | 'input'
  | 'not-found'
  | 'conflict'
  | 'rate-limited'
  | 'network'
  | 'server';

export interface PlainError {
  kind: ErrorKind;
  message: string;
  code?: string;
}

function codeOf(ext: unknown): string | undefined {
  if (ext && typeof ext === 'object' && 'code' in ext && typeof ext.code === 'string') return ext.code;
  return undefined;
}

export function isUnauthenticated(error: unknown): boolean {
  if (CombinedGraphQLErrors.is(error)) return error.errors.some((e) => codeOf(e.extensions) === 'UNAUTHENTICATED');
  if (ServerError.is(error)) return error.statusCode === 401;
  return false;
}

/** A network-level failure: the gateway is unreachable or a proxy in front of it answered 502/503/504. */
export function isNetworkError(error: unknown): boolean {
  if (CombinedGraphQLErrors.is(error)) return false;
  if (ServerError.is(error)) return error.statusCode >= 502 && error.statusCode <= 504;
  if (ServerParseError.is(error)) return false;
  if (error instanceof Error) {
    return (
      error.name === 'TypeError' ||
      /failed to fetch|networkerror|network request failed|load failed|socket closed/i.test(error.message)
    );
  }
  return false;
}

/** Turns any error from the API into words a shopper understands. */
export function describeError(error: unknown, context?: 'checkout' | 'cancel' | 'order' | 'load'): PlainError {
  if (isUnauthenticated(error)) {
    return { kind: 'unauthenticated', message: 'You are signed out or your session has expired. Please sign in again.' };
  }
  if (isNetworkError(error)) {
    return { kind: 'network', message: "Can't reach the server right now. We'll keep retrying." };
  }
  if (CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    const code = codeOf(first?.extensions);
    const raw = first?.message ?? 'Something went wrong.';
    switch (code) {
      case 'FORBIDDEN':
        return { kind: 'forbidden', code, message: "You don't have permission to do that." };
      case 'BAD_USER_INPUT':
        return { kind: 'input', code, message: humanizeInput(raw) };
      case 'NOT_FOUND':
        return {
          kind: 'not-found',
          code,
          message: context === 'order' || context === 'cancel' ? 'We could not find that order.' : raw,
        };
      case 'CONFLICT':
        return {
          kind: 'conflict',
          code,
          message: context === 'cancel' ? 'Too late to cancel: the order is already final.' : raw,
        };
      case 'RATE_LIMITED':
        return { kind: 'rate-limited', code, message: 'Too many requests. Please wait a moment and try again.' };
      case 'INTERNAL_SERVER_ERROR':
        return { kind: 'server', code, message: 'The server ran into a problem. Please try again.' };
      default:
        return { kind: 'server', ...(code ? { code } : {}), message: raw };
    }
  }
  if (ServerError.is(error)) {
    if (error.statusCode === 429) return { kind: 'rate-limited', message: 'Too many requests. Please wait a moment and try again.' };
    return { kind: 'server', message: `The server answered with an error (${error.statusCode}). Please try again.` };
  }
  if (error instanceof Error) return { kind: 'server', message: error.message };
  return { kind: 'server', message: 'Something went wrong.' };
}

function humanizeInput(message: string): string {
  const m = message.trim();
  if (!m) return 'Please check your order and try again.';
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/** A sentence explaining an order's final state, from the status and the saga's reason. */
export function explainOutcome(status: string, reason: string | null | undefined): string | null {
  const r = (reason ?? '').toLowerCase();
  switch (status) {
    case 'CONFIRMED':
      return 'Your order is confirmed. Thank you!';
    case 'REJECTED':
      if (/stock|insufficient|available|enough/.test(r)) {
        return `Sorry, we don't have enough stock for this order${reason ? ` (${reason})` : ''}. Nothing was charged.`;
      }
      if (/unknown|not found|no such/.test(r)) return `One of the products no longer exists${reason ? ` (${reason})` : ''}.`;
      return `The order was rejected${reason ? `: ${reason}` : ''}. Nothing was charged.`;
    case 'CANCELLED':
      if (/declin/.test(r)) return 'Your payment was declined, so the order was cancelled. The items are back in stock.';
      if (/timeout|timed out|deadline|no answer|expired/.test(r)) {
        return "The payment provider didn't answer in time, so the order was cancelled. The items are back in stock.";
      }
      if (/customer|request|user|cancelled by/.test(r)) return 'You cancelled this order. The items are back in stock.';
      return `The order was cancelled${reason ? `: ${reason}` : ''}. The items are back in stock.`;
    default:
      return null;
  }
}
