/** `--name value` or `--name=value` from argv, as a positive number (0 too with `zero: true`), with a default. */
export function numberArg(name: string, fallback: number, argv = process.argv.slice(2), { zero = false } = {}): number {
  const raw = stringArg(name, undefined, argv);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zero)) throw new Error(`--${name} expects a ${zero ? 'non-negative' : 'positive'} number, got ${raw}`);
  return value;
}

export function stringArg(name: string, fallback: string, argv?: string[]): string;
export function stringArg(name: string, fallback: string | undefined, argv?: string[]): string | undefined;
export function stringArg(name: string, fallback: string | undefined, argv = process.argv.slice(2)): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1] ?? fallback;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return fallback;
}

export const flagArg = (name: string, argv = process.argv.slice(2)) => argv.includes(`--${name}`);
