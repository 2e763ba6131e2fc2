// How long and how hard the chaos tier pushes: `CHAOS_PROFILE=short` (part of `npm test`, the whole tier
// in <= 4 minutes on a 2-core box) or `full` (`npm run test:chaos`, <= 15 minutes).

export type ChaosProfileName = 'short' | 'full';

export interface ChaosProfile {
  readonly name: ChaosProfileName;
  /** Orders per second the driver places during the fault scenario. */
  readonly orderRate: number;
  /** Distinct customers (each with its own token and WebSocket connections). */
  readonly customers: number;
  /** SAGA_DEADLINE_MS given to every orders replica. */
  readonly sagaDeadlineMs: number;
  /**
   * Consumer group session timeout asked of the services (KAFKA_SESSION_TIMEOUT_MS); inventory is stopped
   * for longer than this. When a service ignores the variable, its own default applies (see the report).
   */
  readonly sessionTimeoutMs: number;
  /** Flow between faults. */
  readonly calmMs: number;
  /** Kill every subgraph replica one at a time (full) or one replica of each subgraph at once (short). */
  readonly killOneAtATime: boolean;
  /**
   * Short profile: faults overlap (the next starts while the last one's victims still rejoin their groups;
   * redis restarts and orders-2 is slowed while inventory is stopped), to fit the time budget. Full: one at
   * a time, each waited out.
   */
  readonly overlapFaults: boolean;
  /** SIGSTOP/SIGCONT cycles of the slow-subgraph fault. */
  readonly slowCycles: number;
  readonly slowStopMs: number;
  readonly slowRunMs: number;
  /** Forced WebSocket drops (to exercise resume with `after`): one connection every this many ms. */
  readonly dropEveryMs: number;
  /** Longest wait, after the load stops, for every accepted order to be final. */
  readonly drainMs: number;
  /** The soak run inside the chaos tier. */
  readonly soak: { readonly rate: number; readonly seconds: number };
}

/**
 * The services' consumer session timeout, passed to them as KAFKA_SESSION_TIMEOUT_MS: shorter than the
 * 30 s default so a killed replica's partitions move within the test's time (CHAOS_SESSION_TIMEOUT_MS overrides).
 */
const SERVICE_SESSION_TIMEOUT_MS = Number(process.env.CHAOS_SESSION_TIMEOUT_MS ?? 10_000);

const SHORT: ChaosProfile = {
  name: 'short',
  orderRate: 4,
  customers: 4,
  sagaDeadlineMs: 12_000,
  sessionTimeoutMs: SERVICE_SESSION_TIMEOUT_MS,
  calmMs: 2_500,
  killOneAtATime: false,
  overlapFaults: true,
  slowCycles: 6,
  slowStopMs: 400,
  slowRunMs: 300,
  dropEveryMs: 1_500,
  drainMs: 75_000,
  soak: { rate: 40, seconds: 20 },
};

const FULL: ChaosProfile = {
  name: 'full',
  orderRate: 8,
  customers: 8,
  sagaDeadlineMs: 12_000,
  sessionTimeoutMs: SERVICE_SESSION_TIMEOUT_MS,
  calmMs: 6_000,
  killOneAtATime: true,
  overlapFaults: false,
  slowCycles: 20,
  slowStopMs: 500,
  slowRunMs: 300,
  dropEveryMs: 1_000,
  drainMs: 150_000,
  soak: { rate: 150, seconds: 60 },
};

export function chaosProfile(name = process.env.CHAOS_PROFILE): ChaosProfile {
  return name === 'full' ? FULL : SHORT;
}
