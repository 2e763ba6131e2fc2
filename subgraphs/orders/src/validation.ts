import { badUserInput } from '@shop/service-kit';
import { isOrderId, isProductId } from './ids.js';

export const MAX_LINES = 50;

/** An id as it may appear in an error message: quoted, escaped, cut at 40 characters. */
export const shown = (id: string): string => JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
export const MAX_QUANTITY = 1000;

export interface PlaceOrderInput {
  readonly lines: readonly { readonly productId: string; readonly quantity: number }[];
  readonly paymentToken: string;
  readonly idempotencyKey?: string | null;
}

export interface ValidPlaceOrder {
  readonly lines: readonly { readonly productId: string; readonly quantity: number }[];
  readonly paymentToken: string;
  readonly idempotencyKey: string | null;
}

/** Shape checks of placeOrder's input (the catalog check comes after, against the projection). */
export function validatePlaceOrder(input: PlaceOrderInput): ValidPlaceOrder {
  const lines = input.lines;
  if (lines.length === 0 || lines.length > MAX_LINES) {
    throw badUserInput(`An order needs 1 to ${MAX_LINES} lines, got ${lines.length}.`, { field: 'lines' });
  }
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    const n = i + 1;
    if (!isProductId(line.productId)) {
      throw badUserInput(`Line ${n}: malformed product id ${shown(line.productId)} (expected prd_…).`, { field: `lines[${i}].productId` });
    }
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY) {
      throw badUserInput(`Line ${n} (${line.productId}): quantity must be between 1 and ${MAX_QUANTITY}, got ${line.quantity}.`, {
        field: `lines[${i}].quantity`,
      });
    }
    const earlier = seen.get(line.productId);
    if (earlier !== undefined) {
      throw badUserInput(`Line ${n} (${line.productId}): the product is already on line ${earlier}; put the total quantity on one line.`, {
        field: `lines[${i}].productId`,
      });
    }
    seen.set(line.productId, n);
  });
  const token = input.paymentToken.trim();
  if (token.length === 0 || token.length > 100) throw badUserInput('paymentToken must be 1 to 100 characters.', { field: 'paymentToken' });
  const key = input.idempotencyKey ?? null;
  if (key !== null && (key.length === 0 || key.length > 200 || !/^[\x21-\x7e]+$/.test(key))) {
    throw badUserInput('idempotencyKey must be 1 to 200 printable ASCII characters without spaces.', { field: 'idempotencyKey' });
  }
  return { lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })), paymentToken: token, idempotencyKey: key };
}

export function assertOrderId(id: string, field = 'id'): void {
  if (!isOrderId(id)) throw badUserInput(`${field}: malformed order id ${shown(id)} (expected ord_ followed by at least 20 characters).`, { field });
}
