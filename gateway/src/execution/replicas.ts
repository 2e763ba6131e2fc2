/**
 * The replicas of one subgraph and which of them are up: the gateway spreads its fetches and upstream
 * WebSocket connections over the ones up (least in flight, round-robin among equals). A replica goes
 * down when a call to it fails to connect or it answers "unavailable", and when its periodic health
 * check fails; only a health check brings it back. Pure state: the caller does the I/O and says what
 * happened.
 */
export interface ReplicaSetOptions {
  /** Told of every change of a replica's state (and of each replica's first state, up). */
  readonly onChange?: (url: string, up: boolean) => void;
  /** Clock (tests). */
  readonly now?: () => number;
}

/** What a replica is picked for: an HTTP fetch, or an upstream subscription (which opens or shares a WebSocket to it). */
export type ReplicaUse = 'fetch' | 'subscription';

interface Replica {
  readonly url: string;
  up: boolean;
  /** When it went down (0 while up). */
  downSince: number;
  inFlight: number;
}

export class ReplicaSet {
  readonly #replicas: readonly Replica[];
  readonly #opts: ReplicaSetOptions;
  /** Where the round-robin resumes among replicas equally loaded, for each use: each is spread on its own. */
  readonly #next: Record<ReplicaUse, number> = { fetch: 0, subscription: 0 };

  constructor(urls: readonly string[], opts: ReplicaSetOptions = {}) {
    if (urls.length === 0) throw new Error('a replica set needs at least one URL');
    this.#replicas = [...new Set(urls)].map((url) => ({ url, up: true, downSince: 0, inFlight: 0 }));
    this.#opts = opts;
    for (const r of this.#replicas) opts.onChange?.(r.url, true);
  }

  get urls(): readonly string[] {
    return this.#replicas.map((r) => r.url);
  }

  get anyUp(): boolean {
    return this.#replicas.some((r) => r.up);
  }

  isUp(url: string): boolean {
    return this.#find(url)?.up ?? false;
  }

  /**
   * The replica to use now: the up one with the fewest calls in flight, taking turns among equals;
   * `exclude` (one that just failed) only when nothing else is left. When every replica is down, the
   * one down longest gets a last try rather than none: a health check may not have noticed it is back,
   * and a single replica then behaves as if there were no replica set at all.
   * Undefined only when the one candidate left is excluded.
   */
  pick(exclude?: string, use: ReplicaUse = 'fetch'): string | undefined {
    const n = this.#replicas.length;
    let best: Replica | undefined;
    let bestIndex = 0;
    for (let i = 0; i < n; i++) {
      const index = (this.#next[use] + i) % n;
      const r = this.#replicas[index]!;
      if (!r.up || r.url === exclude) continue;
      if (!best || r.inFlight < best.inFlight) {
        best = r;
        bestIndex = index;
      }
    }
    if (best) {
      this.#next[use] = (bestIndex + 1) % n;
      return best.url;
    }
    const down = this.#replicas.filter((r) => r.url !== exclude).sort((a, b) => a.downSince - b.downSince);
    return down[0]?.url;
  }

  /** Counts a call in flight on `url` until the returned function is called. */
  begin(url: string): () => void {
    const r = this.#find(url);
    if (!r) return () => undefined;
    r.inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      r.inFlight--;
    };
  }

  markDown(url: string): void {
    const r = this.#find(url);
    if (!r || !r.up) return;
    r.up = false;
    r.downSince = (this.#opts.now ?? Date.now)();
    this.#opts.onChange?.(url, false);
  }

  markUp(url: string): void {
    const r = this.#find(url);
    if (!r || r.up) return;
    r.up = true;
    r.downSince = 0;
    this.#opts.onChange?.(url, true);
  }

  /** A health check's verdict. */
  report(url: string, healthy: boolean): void {
    if (healthy) this.markUp(url);
    else this.markDown(url);
  }

  #find(url: string): Replica | undefined {
    return this.#replicas.find((r) => r.url === url);
  }
}

/** Node's and undici's codes for a connection that was never made: the request did not leave the gateway. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether a transport error says the request was never sent (so even a mutation may go to another replica). */
export function neverSent(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_CONNECTED.has(code)) return true;
  }
  return false;
}

/** Statuses a replica (or the proxy in front of it) answers when it cannot serve: it goes down. */
export function isUnavailableStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}
