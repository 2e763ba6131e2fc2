import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Events handled by the service's consumers, by event type and outcome (`ok`, `ignored`, `error`). */
  readonly eventsHandled: Counter<'group' | 'type' | 'outcome'>;
  /** Order state machine transitions applied (orders only; other services leave it at zero). */
  readonly sagaTransitions: Counter<'from' | 'to'>;
  /** Time spent in one event handler. */
  readonly handlerSeconds: Histogram<'group' | 'type'>;
}

/**
 * One registry per service instance (not prom-client's global one), so several services can run
 * in one process (tests, the launcher) without "metric already registered" errors.
 */
export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    eventsHandled: new Counter({
      name: 'shop_events_handled_total',
      help: 'Events handled by this service, by consumer group, event type and outcome',
      labelNames: ['group', 'type', 'outcome'],
      registers: [registry],
    }),
    sagaTransitions: new Counter({
      name: 'shop_saga_transitions_total',
      help: 'Order status transitions applied, by from and to status',
      labelNames: ['from', 'to'],
      registers: [registry],
    }),
    handlerSeconds: new Histogram({
      name: 'shop_event_handler_seconds',
      help: 'Duration of one event handler call',
      labelNames: ['group', 'type'],
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers: [registry],
    }),
  };
}

const INFRASTRUCTURE_ERROR =
  /Connection is closed|MaxRetriesPerRequest|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|Stream isn't writeable|^LOADING|^BUSY|^READONLY|^MASTERDOWN|^TRYAGAIN|^CLUSTERDOWN/;

/**
 * True for errors that say a dependency is down or busy (Redis connection lost, a script still
 * running), not that the event is bad: retrying later will work, dead-lettering would lose it.
 */
export function isInfrastructureError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, message } = err as { name?: unknown; message?: unknown };
  return name === 'MaxRetriesPerRequestError' || (typeof message === 'string' && INFRASTRUCTURE_ERROR.test(message));
}

/**
 * Wraps an event handler so every call is counted by type and outcome and timed (the outcome is passed on); errors are
 * counted as `error` and rethrown (the consumer runner decides retry or dead letter from
 * `retriable`). Infrastructure errors without a `retriable` flag (a lost Redis connection) are
 * rethrown with `retriable: true`, so an outage is waited out instead of dead-lettering events.
 */
export function instrumentHandler<E extends { readonly type: string }, C, O extends string | void>(
  metrics: ServiceMetrics,
  group: string,
  handle: (event: E, ctx: C) => Promise<O>,
): (event: E, ctx: C) => Promise<O> {
  return async (event, ctx) => {
    const end = metrics.handlerSeconds.startTimer({ group, type: event.type });
    try {
      const outcome = await handle(event, ctx);
      metrics.eventsHandled.inc({ group, type: event.type, outcome: outcome || 'ok' });
      return outcome;
    } catch (err) {
      metrics.eventsHandled.inc({ group, type: event.type, outcome: 'error' });
      if (isInfrastructureError(err) && (err as { retriable?: unknown }).retriable === undefined) {
        throw Object.assign(new Error(`infrastructure error: ${(err as Error).message}`, { cause: err }), { retriable: true });
      }
      throw err;
    } finally {
      end();
    }
  };
}
