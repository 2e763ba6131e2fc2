import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { ErrorCode } from '@shop/service-kit';
import { GraphQLError, getOperationAST, getVariableValues } from '../graphql.js';
import type { GatewayContext } from '../context.js';
import { checkComplexity, measureOperation, type ComplexityLimits } from '../limits.js';
import type { GatewayMetrics } from '../metrics.js';
import type { PlanExecutor } from './plan-executor.js';
import { checkVariableNames } from '../variable-names.js';

/** The content-type negotiation Apollo Server does, with the same library, so both paths answer alike. */
const Negotiator = createRequire(import.meta.url)('negotiator') as new (request: { headers: { accept?: string } }) => { mediaType(available: string[]): string | undefined };

const JSON_TYPE = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json; charset=utf-8';
/** Offered too, as Apollo Server does, so that a client asking for it is left to Apollo Server. */
const CALLBACK_TYPE = 'application/json; callbackSpec=1.0; charset=utf-8';
const MAX_REMEMBERED_ACCEPTS = 256;

export interface FastPathOptions {
  readonly schema: () => GraphQLSchema;
  /** Parsed and validated documents by text (`undefined` when the text does not validate). */
  readonly document: (query: string) => DocumentNode | undefined;
  readonly executor: PlanExecutor;
  readonly limits: ComplexityLimits;
  readonly metrics: GatewayMetrics;
  /** The gateway's one error formatter (no stack traces; masked in production). */
  readonly formatError: (formatted: GraphQLFormattedError) => GraphQLFormattedError;
}

/**
 * Queries and mutations that need nothing of Apollo Server beyond what the gateway already does
 * (a JSON POST of a valid, plain operation with valid variables, within the limits, without
 * persisted-query extensions), answered without its request pipeline: the same checks, the same
 * executor, the same error formatting and response shape (`{errors, data, extensions}` + newline,
 * content type negotiated as Apollo Server does). Anything else, and every refusal, is left to
 * Apollo Server, so errors keep its exact form. `run` returns false when it left the request alone.
 */
export class FastHttpPath {
  readonly #accepts = new Map<string, string | null>();

  constructor(private readonly opts: FastPathOptions) {}

  async run(body: unknown, accept: string | undefined, context: GatewayContext, res: ServerResponse): Promise<boolean> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
    const { query, variables, operationName, extensions: requestExtensions } = body as Record<string, unknown>;
    if (typeof query !== 'string' || query === '' || (requestExtensions !== undefined && requestExtensions !== null)) return false;
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return false;
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return false;
    const contentType = this.#contentType(accept);
    if (!contentType) return false;

    const document = this.opts.document(query);
    if (!document) return false;
    const name = operationName ?? undefined;
    const operation = getOperationAST(document, name);
    if (!operation || operation.operation === 'subscription') return false;
    const schema = this.opts.schema();
    const vars = (variables ?? {}) as Record<string, unknown>;
    if (!this.#acceptable(schema, document, operation, vars)) return false;
    const prepared = this.opts.executor.prepare(document, name);
    if (!prepared?.fast) return false;

    const started = process.hrtime.bigint();
    let status = 200;
    let payload: { errors?: GraphQLFormattedError[]; data?: unknown; extensions?: unknown };
    try {
      const result = await this.opts.executor.run(prepared, vars, context);
      payload = { errors: result.errors?.map((e) => this.#format(e)), data: result.data, extensions: result.extensions };
    } catch (err) {
      // As Apollo Server answers an executor that throws: 500, one formatted error, no data.
      status = 500;
      context.logger.error({ err }, 'query execution failed');
      payload = { errors: [this.#format(err instanceof GraphQLError ? err : new GraphQLError((err as Error).message))] };
    }
    const text = `${JSON.stringify({ errors: payload.errors, data: payload.data, extensions: payload.extensions })}\n`;
    // no-store as Apollo Server's cache-control plugin answers for this schema (no cache hints): answers hold personal data.
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) }).end(text);

    // Apollo Server names the operation it ran, whatever the request's operationName said.
    const labels = { operation: operation.name?.value ?? '(anonymous)', type: operation.operation, transport: 'http' };
    this.opts.metrics.requests.inc({ ...labels, outcome: payload.errors?.length ? 'error' : 'ok' });
    this.opts.metrics.latency.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    return true;
  }

  /** Valid variables and within the complexity limits: refusals are Apollo Server's to word. */
  #acceptable(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): boolean {
    if (checkVariableNames(operation, variables)) return false;
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 1 });
    if (coerced.errors) return false;
    return checkComplexity(measureOperation(schema, document, operation, variables), this.opts.limits) === undefined;
  }

  #contentType(accept: string | undefined): string | null {
    if (!accept) return JSON_TYPE;
    let chosen = this.#accepts.get(accept);
    if (chosen === undefined) {
      const preferred = new Negotiator({ headers: { accept } }).mediaType([JSON_TYPE, GRAPHQL_RESPONSE_TYPE, CALLBACK_TYPE]);
      chosen = preferred === JSON_TYPE || preferred === GRAPHQL_RESPONSE_TYPE ? preferred : null;
      if (this.#accepts.size >= MAX_REMEMBERED_ACCEPTS) this.#accepts.clear();
      this.#accepts.set(accept, chosen);
    }
    return chosen;
  }

  /** Apollo Server's error normalization (a code always), then the gateway's formatError, as Apollo Server does it. */
  #format(error: GraphQLError): GraphQLFormattedError {
    return this.opts.formatError({ ...error.toJSON(), extensions: { ...error.extensions, code: error.extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR } });
  }
}
