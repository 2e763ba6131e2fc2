/**
 * Counts what each client holds open (connections, subscriptions) against one maximum per client.
 * A client is a customer (`sub:<id>`) or, anonymous, an address (`ip:<address>`).
 */
export class ClientSlots {
  readonly #held = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes one slot of `key`; false (and nothing taken) when it holds `max` already. */
  take(key: string): boolean {
    const held = this.#held.get(key) ?? 0;
    if (held >= this.max) return false;
    this.#held.set(key, held + 1);
    return true;
  }

  release(key: string): void {
    const left = (this.#held.get(key) ?? 1) - 1;
    if (left <= 0) this.#held.delete(key);
    else this.#held.set(key, left);
  }

  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }
}
