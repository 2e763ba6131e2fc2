import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';

/**
 * Trace context through the event path (W3C `traceparent`/`tracestate`, OpenTelemetry messaging conventions).
 * Only the API is used here: with no SDK registered (tracing off) every call is a no-op, and the service's
 * start-up decides whether one is (`startTracing` in service-kit).
 */
const tracer = trace.getTracer('@shop/events');

/** The field of a pushed message (Redis pub/sub, a subscription payload's `extensions`) holding its trace context. */
export const TRACE_FIELD = 'trace';

/** The propagation fields of `ctx` (the active context by default): what goes into record headers and pushes. */
export function traceFields(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** `message` with the active trace context under `TRACE_FIELD`, or `message` itself when there is none. */
export function withTrace<T extends object>(message: T): T {
  const fields = traceFields();
  return fields['traceparent'] ? { ...message, [TRACE_FIELD]: fields } : message;
}

/** The context carried by `fields` (record headers, a pushed message), or none. */
export function contextOf(fields: Readonly<Record<string, unknown>> | undefined): Context {
  if (!fields) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, fields, {
    keys: (c) => Object.keys(c),
    get: (c, key) => (typeof c[key] === 'string' ? (c[key] as string) : undefined),
  });
}

/** Starts a span as a child of `parent` (the active context by default). */
export function startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Context = context.active()): Span {
  return tracer.startSpan(name, { kind, attributes }, parent);
}

/** Runs `fn` in a span (child of the active context), recording a thrown error on it. */
export async function inSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: () => Promise<T>, parent: Context = context.active()): Promise<T> {
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Runs the synchronous `fn` in a span (child of `parent`), ended when `fn` returns: work `fn` starts joins it. */
export function inSyncSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: () => T, parent: Context = context.active()): T {
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  try {
    return context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Marks a span failed with `err`. */
export function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * The context an event was emitted in (a handler's span, a request's span): its publish span is made a child
 * of it, though the produce request that carries it goes out later, for a whole batch.
 */
const emittedIn = new WeakMap<object, Context>();

export function rememberEmitContext(event: object, ctx: Context = context.active()): void {
  if (trace.getSpan(ctx)) emittedIn.set(event, ctx);
}

export function emitContextOf(event: object): Context {
  return emittedIn.get(event) ?? context.active();
}

export { context, SpanKind, trace, type Context, type Span };
