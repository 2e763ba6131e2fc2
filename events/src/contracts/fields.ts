import { z } from 'zod';

/**
 * Field schemas shared by the event payloads. Changing one changes every event that uses it, so the
 * schema snapshot test catches it for each of them.
 */

/** An aggregate or entity id: opaque, non-empty. */
export const Id = z.string().min(1).max(200);

/** ISO-8601 UTC timestamp with `Z` (`2026-01-31T12:00:00.000Z`). */
export const Timestamp = z.iso.datetime();

/** Money in minor units (cents); one currency for now. */
export const Money = z.object({
  amount: z.number().int(),
  currency: z.literal('USD'),
});
export type Money = z.output<typeof Money>;

/** A product and how many units of it. */
export const StockLine = z.object({
  productId: Id,
  quantity: z.number().int().positive(),
});
export type StockLine = z.output<typeof StockLine>;
