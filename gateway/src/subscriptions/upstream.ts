import type { ExecutionResult } from 'graphql-ws';
import type { DocumentNode, FieldNode, GraphQLFormattedError, OperationDefinitionNode, ValueNode } from 'graphql';
import { Kind, parse, print } from '../graphql.js';
import type { UpstreamConnection } from './upstream-connections.js';
import type { SharedEmitter, SharedSource } from './registry.js';
import { ErrorCode } from '@shop/service-kit';
import { contextOf, inSyncSpan, SpanKind, TRACE_FIELD } from '@shop/events';
import type { ResumableField } from './resumable.js';

export interface UpstreamOptions {
  readonly subgraph: string;
  /**
   * The shared connection to the owning subgraph, or where to get one at every (re)subscribe (so a
   * resubscription after a drop can go to another replica).
   */
  readonly connection: UpstreamConnection | (() => UpstreamConnection);
  /** The primary fetch of the query plan: a subscription operation in the subgraph's terms. */
  readonly operation: string;
  readonly operationName?: string | undefined;
  readonly variables: Record<string, unknown>;
  /** The resumable subscription fields of the supergraph (resumable.ts). */
  readonly resumable?: ReadonlyMap<string, ResumableField> | undefined;
  /** The caller's headers (signed identity, correlation id), sent with every (re)subscribe so they are always fresh. */
  readonly headers: () => Record<string, unknown>;
  /** Reconnection attempts after a dropped connection before the clients get an error. */
  readonly retryAttempts: number;
  /** First retry delay; doubles up to 5 s. */
  readonly retryBaseDelayMs?: number;
  readonly onRetry?: (attempt: number, reason: string) => void;
  readonly onDrop?: (reason: string) => void;
}

type UpstreamEvent = ExecutionResult<Record<string, unknown>, unknown>;

const isGraphQLErrors = (e: unknown): e is GraphQLFormattedError[] => Array.isArray(e) && e.every((x) => x && typeof x === 'object' && 'message' in x);

/** Close codes after which a retry cannot help (the subgraph refused us, not the network). */
function isFatalClose(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'number') return false;
  return code >= 4400 && code < 4500 && code !== 4408 && code !== 4499;
}

function describe(err: unknown): string {
  // A failed connection attempt arrives as the socket's ErrorEvent ({ type: 'error', message }).
  if (err && typeof err === 'object' && 'type' in err && (err as { type: unknown }).type === 'error') {
    return `connection failed: ${String((err as { message?: unknown }).message ?? 'unknown error')}`;
  }
  if (err && typeof err === 'object' && 'code' in err) {
    const e = err as { code: unknown; reason?: unknown };
    return `closed ${String(e.code)}${e.reason ? ` ${String(e.reason)}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The root field of a single-field subscription operation. */
function rootField(doc: DocumentNode): { op: OperationDefinitionNode; field: FieldNode } | undefined {
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const field = op?.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD && !s.name.value.startsWith('__'));
  return op && field ? { op, field } : undefined;
}

/** What a subscription reads from its upstream operation's text, parsed once per operation (and set of resumable fields). */
export interface UpstreamShape {
  /** How the root field resumes, when it is resumable (by its name, not its alias). */
  readonly resume: ResumableField | undefined;
  /** The root field's key in each event's data. */
  readonly responseKey: string;
  /** The resume argument as the operation gives it (a variable or a literal), if it does. */
  readonly resumeValue: ValueNode | undefined;
  /** The operation as first sent: with the cursor field selected when resumable. */
  readonly firstQuery: string;
}

const NO_RESUMABLE_FIELDS: ReadonlyMap<string, ResumableField> = new Map();
/** Upstream operations come from cached query plans, so few are distinct; the bound is for clients that send many. */
const SHAPES_KEPT = 1_000;
const shapes = new WeakMap<ReadonlyMap<string, ResumableField>, Map<string, UpstreamShape>>();

/** The operation's shape, from a cache: every subscription to the same field parses nothing. */
export function upstreamShapeOf(operation: string, fields: ReadonlyMap<string, ResumableField> = NO_RESUMABLE_FIELDS): UpstreamShape {
  let byOperation = shapes.get(fields);
  if (!byOperation) shapes.set(fields, (byOperation = new Map()));
  let shape = byOperation.get(operation);
  if (!shape) {
    const root = rootField(parse(operation));
    const resume = root ? fields.get(root.field.name.value) : undefined;
    shape = {
      resume,
      responseKey: root ? (root.field.alias?.value ?? root.field.name.value) : '',
      resumeValue: resume ? root?.field.arguments?.find((a) => a.name.value === resume.argument)?.value : undefined,
      firstQuery: resume ? prepareResumableOperation(operation, resume, undefined).query : operation,
    };
    if (byOperation.size >= SHAPES_KEPT) byOperation.clear();
    byOperation.set(operation, shape);
  }
  return shape;
}

/** Whether the upstream operation's root field is resumable, by its name (not its alias); the one place that decides it. */
export function resumableOf(operation: string, fields: ReadonlyMap<string, ResumableField>): { field: ResumableField; responseKey: string } | undefined {
  const { resume, responseKey } = upstreamShapeOf(operation, fields);
  return resume ? { field: resume, responseKey } : undefined;
}

/** Makes sure the cursor field is selected and, when resuming, sets the resume argument to a literal. */
export function prepareResumableOperation(operation: string, resume: ResumableField, cursor: number | undefined): { query: string; responseKey: string } {
  const doc = parse(operation);
  const root = rootField(doc);
  if (!root) return { query: operation, responseKey: '' };
  const { field } = root;
  const hasCursor = field.selectionSet?.selections.some((s) => s.kind === Kind.FIELD && !s.alias && s.name.value === resume.cursorField);
  const selections = [...(field.selectionSet?.selections ?? [])];
  if (!hasCursor) selections.push({ kind: Kind.FIELD, name: { kind: Kind.NAME, value: resume.cursorField } });
  const existing = field.arguments?.find((a) => a.name.value === resume.argument);
  // A variable argument is resumed through the variables (see startUpstreamSubscription); a literal or a missing one here.
  const viaVariable = existing?.value.kind === Kind.VARIABLE;
  const args = (field.arguments ?? []).filter((a) => cursor === undefined || viaVariable || a.name.value !== resume.argument);
  if (cursor !== undefined && !viaVariable) {
    args.push({ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: resume.argument }, value: { kind: Kind.INT, value: String(cursor) } });
  }
  const newField: FieldNode = { ...field, arguments: args, selectionSet: { kind: Kind.SELECTION_SET, selections } };
  const newDoc: DocumentNode = {
    ...doc,
    definitions: doc.definitions.map((d) =>
      d === root.op ? { ...root.op, selectionSet: { ...root.op.selectionSet, selections: root.op.selectionSet.selections.map((s) => (s === field ? newField : s)) } } : d,
    ),
  };
  return { query: print(newDoc), responseKey: field.alias?.value ?? field.name.value };
}

/**
 * Runs one subscription against a subgraph over graphql-ws and pushes its events to `emit`.
 * A dropped connection is retried with backoff; a resumable field resubscribes after the last
 * cursor delivered and skips anything at or before it, so listeners see no gap and no repeat.
 * When retries run out, or the subgraph answers with GraphQL errors, `emit.error` ends it.
 */
export function startUpstreamSubscription(opts: UpstreamOptions, emit: SharedEmitter<UpstreamEvent>): SharedSource {
  const { resume, responseKey, resumeValue: resumeVar, firstQuery } = upstreamShapeOf(opts.operation, opts.resumable);
  let cursor: number | undefined =
    resume && resumeVar?.kind === Kind.VARIABLE && typeof opts.variables[resumeVar.name.value] === 'number'
      ? (opts.variables[resumeVar.name.value] as number)
      : resume && resumeVar?.kind === Kind.INT
        ? Number(resumeVar.value)
        : undefined;

  let closed = false;
  let attempt = 0;
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const given = opts.connection;
  const connectionNow = typeof given === 'function' ? given : () => given;
  let connection: UpstreamConnection | undefined;
  let stopCounting = () => {};
  const use = (next: UpstreamConnection) => {
    if (next === connection) return;
    stopCounting();
    connection = next;
    // A connection that comes (back) up counts as a success: the next drop starts the backoff again.
    stopCounting = next.client.on('connected', () => {
      attempt = 0;
    });
  };
  const release = () => {
    const stop = unsubscribe;
    unsubscribe = undefined;
    if (stop) connection?.whenSettled(stop);
  };

  const connect = (resuming: boolean) => {
    if (closed) return;
    use(connectionNow());
    const { client } = connection!;
    // A variable cursor travels in the variables; only a literal one needs the operation rewritten.
    const query =
      resume && resuming && cursor !== undefined && resumeVar?.kind !== Kind.VARIABLE ? prepareResumableOperation(opts.operation, resume, cursor).query : firstQuery;
    const variables =
      resuming && cursor !== undefined && resumeVar?.kind === Kind.VARIABLE ? { ...opts.variables, [resumeVar.name.value]: cursor } : opts.variables;
    unsubscribe = client.subscribe<Record<string, unknown>>(
      { query, variables, ...(opts.operationName ? { operationName: opts.operationName } : {}), extensions: { headers: opts.headers() } },
      {
        next: (result) => {
          if (closed) return;
          attempt = 0; // delivering again (perhaps on another replica's connection, which was up already)
          if (!result.data && result.errors?.length) {
            // The subgraph refused the subscription (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND…): final, not retried.
            closed = true;
            stopCounting();
            release();
            emit.error(result.errors as GraphQLFormattedError[]);
            return;
          }
          if (resume) {
            const value = (result.data?.[responseKey] as Record<string, unknown> | null | undefined)?.[resume.cursorField];
            if (typeof value === 'number') {
              if (cursor !== undefined && value <= cursor) return; // already delivered before the drop
              cursor = value;
            }
          }
          // A change pushed in an order's trace: the push to the clients joins it, and the context is ours only.
          const trace = (result.extensions as Record<string, unknown> | undefined)?.[TRACE_FIELD];
          if (trace && typeof trace === 'object') {
            const { [TRACE_FIELD]: _trace, ...extensions } = result.extensions as Record<string, unknown>;
            const event = (Object.keys(extensions).length ? { ...result, extensions } : { data: result.data, ...(result.errors ? { errors: result.errors } : {}) }) as UpstreamEvent;
            const attributes = { 'graphql.operation.type': 'subscription', 'shop.subgraph': opts.subgraph };
            inSyncSpan('subscription push', SpanKind.CONSUMER, attributes, () => emit.next(event), contextOf(trace as Record<string, unknown>));
            return;
          }
          emit.next(result as UpstreamEvent);
        },
        error: (err) => {
          unsubscribe = undefined; // graphql-ws has ended it
          if (closed) return;
          if (isGraphQLErrors(err)) {
            emit.error(err);
            return;
          }
          const reason = describe(err);
          opts.onDrop?.(reason);
          if (isFatalClose(err) || attempt >= opts.retryAttempts) {
            emit.error([
              {
                message: `The subscription to ${opts.subgraph} was lost (${reason}) and could not be resumed.`,
                extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, serviceName: opts.subgraph },
              },
            ]);
            return;
          }
          attempt++;
          opts.onRetry?.(attempt, reason);
          const delay = Math.min((opts.retryBaseDelayMs ?? 100) * 2 ** (attempt - 1), 5_000);
          timer = setTimeout(() => connect(true), delay);
        },
        complete: () => {
          unsubscribe = undefined;
          if (!closed) emit.complete();
        },
      },
    );
  };

  connect(false);
  return {
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      stopCounting();
      release();
    },
  };
}
