import { z } from 'zod';

export type EnvSource = Record<string, string | undefined>;

/**
 * Validates the environment once at start. A wrong setting stops the service with one clear
 * message naming every bad variable, instead of failing later somewhere deep.
 */
export function parseEnv<S extends z.ZodType>(service: string, schema: S, env: EnvSource = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`).join('\n');
  throw new Error(`${service}: invalid configuration\n${problems}`);
}

/** `true/false/1/0/yes/no`, with a default when unset. */
export const envBoolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v === 'true' || v === '1' || v === 'yes'));

/** An integer within bounds, with a default when unset. */
export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer in ${min}..${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** Milliseconds, written as a plain number of ms or with a unit: `500ms`, `30s`, `2m`, `24h`. */
export const envDurationMs = (fallbackMs: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallbackMs;
      const m = /^(\d+)(ms|s|m|h)?$/.exec(v.trim());
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 30s, 2m or 24h, got "${v}"` });
        return z.NEVER;
      }
      const n = Number(m[1]);
      return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : m[2] === 'h' ? n * 3_600_000 : n;
    });

/** A comma-separated list of `host:port`; empty or unset is none. */
export const envHostPorts = () =>
  z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')));
