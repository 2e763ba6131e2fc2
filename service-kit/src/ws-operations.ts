import { createRequire } from 'node:module';
import type { DocumentNode, ExecutionArgs, ExecutionResult, GraphQLError, GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { requestIdentityFrom, type RequestIdentity } from './auth.js';
import { ErrorCode } from './errors.js';
import { contextOf, inSpan, SpanKind, TRACE_FIELD, traceFields } from '@shop/events';

// graphql-js as graphql-ws loads it (Node's resolution: the CommonJS build), so the documents and errors
// handed back to it are of its own copy, also under a bundler-style resolver (vitest) that would pick the
// package's ESM build for our sources.
const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** Documents kept parsed and validated; past this many the cache starts over (clients send few distinct ones). */
const MAX_DOCUMENTS = 500;

/**
 * What a subgraph's graphql-ws server does per subscribe message: find the operation's caller (the signed
 * headers in `extensions.headers` when the gateway multiplexes many callers over one connection, else the
 * connection's own caller), and parse and validate the document once per distinct query, not per subscribe.
 */
export function createWsOperations(opts: { schema: GraphQLSchema; identitySecret: string; audience: string }) {
  const documents = new Map<string, DocumentNode>();
  /** Callers of operations subscribed and not yet given their context, by connection and operation id. */
  const pending = new WeakMap<object, Map<string, RequestIdentity>>();

  function documentFor(query: string): DocumentNode | readonly GraphQLError[] {
    const cached = documents.get(query);
    if (cached) return cached;
    let document: DocumentNode;
    try {
      document = graphql.parse(query);
    } catch (err) {
      return [err instanceof graphql.GraphQLError ? err : new graphql.GraphQLError(String(err))];
    }
    const errors = graphql.validate(opts.schema, document);
    if (errors.length) return errors;
    if (documents.size >= MAX_DOCUMENTS) documents.clear();
    documents.set(query, document);
    return document;
  }

  return {
    /** graphql-ws `onSubscribe`: the execution arguments, or the errors that refuse the operation. */
    subscribe(connection: object, id: string, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
      const headers = (payload.extensions as { headers?: unknown } | null | undefined)?.headers;
      if (headers !== undefined) {
        const caller = typeof headers === 'object' && headers !== null ? requestIdentityFrom(headers as Record<string, unknown>, opts.identitySecret, opts.audience) : null;
        if (!caller?.viaGateway) return [new graphql.GraphQLError('The operation carries no valid identity header.', { extensions: { code: ErrorCode.UNAUTHENTICATED } })];
        let callers = pending.get(connection);
        if (!callers) pending.set(connection, (callers = new Map()));
        callers.set(id, caller);
      }
      const document = documentFor(payload.query);
      if (Array.isArray(document)) return document as readonly GraphQLError[];
      return { schema: opts.schema, document: document as DocumentNode, variableValues: payload.variables, operationName: payload.operationName };
    },
    /**
     * graphql-ws `subscribe`: graphql-js's own, but an event that carries a trace context (a pub/sub message the
     * saga published in an order's trace) is executed in a span of that trace, and the pushed result carries
     * the span's context in `extensions`, so the gateway's push to the client joins the trace too.
     */
    async execute(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
      const stream = await graphql.createSourceEventStream(args);
      if (!(Symbol.asyncIterator in stream)) return stream;
      const source = stream as AsyncIterableIterator<unknown>;
      const field = operationFieldName(args);
      const run = async (payload: unknown): Promise<ExecutionResult> => {
        const trace = (payload as Record<string, unknown> | null)?.[TRACE_FIELD];
        if (!trace || typeof trace !== 'object') return graphql.execute({ ...args, rootValue: payload });
        return inSpan(
          `push ${field}`,
          SpanKind.PRODUCER,
          { 'graphql.operation.type': 'subscription', 'graphql.field': field },
          async () => {
            const result = await graphql.execute({ ...args, rootValue: payload });
            return { ...result, extensions: { ...result.extensions, [TRACE_FIELD]: traceFields() } };
          },
          contextOf(trace as Record<string, unknown>),
        );
      };
      const pushed: AsyncIterableIterator<ExecutionResult> = {
        async next() {
          const r = await source.next();
          return r.done ? r : { value: await run(r.value), done: false };
        },
        async return() {
          await source.return?.();
          return { value: undefined, done: true };
        },
        async throw(err: unknown) {
          await source.return?.();
          throw err;
        },
        [Symbol.asyncIterator]: () => pushed,
      };
      return pushed;
    },
    /** The operation's own caller, if its subscribe named one (taken: asked once, when its context is made). */
    takeCaller(connection: object, id: string): RequestIdentity | undefined {
      const callers = pending.get(connection);
      const caller = callers?.get(id);
      callers?.delete(id);
      return caller;
    },
  };
}

/** The first root field of the operation (a subscription has exactly one), for span names. */
function operationFieldName(args: ExecutionArgs): string {
  for (const def of args.document.definitions) {
    if (def.kind !== 'OperationDefinition') continue;
    if (args.operationName && def.name?.value !== args.operationName) continue;
    const first = def.selectionSet.selections[0];
    return first?.kind === 'Field' ? first.name.value : 'subscription';
  }
  return 'subscription';
}
