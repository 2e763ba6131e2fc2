/**
 * GraphQL over HTTP (GET and POST, persisted queries by their extension) on top of the engine:
 * reads the request, negotiates the response type, writes the answer. Authentication, rate
 * limits, body limits and CSRF prevention have run before (server.ts); subscriptions over
 * multipart are `multipart.ts`'s.
 */
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode, httpStatusOf } from '@shop/service-kit';
import type { GatewayContext } from '../context.js';
import type { ErrorFormatter } from '../error-masking.js';
import type { Engine, OperationRequest, Refusal } from '../engine/engine.js';

const Negotiator = createRequire(import.meta.url)('negotiator') as new (request: { headers: { accept?: string } }) => { mediaType(available: string[]): string | undefined };

const JSON_TYPE = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json; charset=utf-8';
const MAX_REMEMBERED_ACCEPTS = 256;

/** A request as read from the wire: the GraphQL parameters, or why they could not be read. */
export type HttpRequest = { readonly method: 'GET' | 'POST'; readonly params: OperationRequest } | { readonly error: string };

/** The GraphQL parameters of a GET (URL search parameters, `variables` and `extensions` as JSON). */
export function paramsOfGet(search: URLSearchParams): HttpRequest {
  const json = (name: string): unknown => {
    const raw = search.get(name);
    if (raw === null || raw === '') return undefined;
    return JSON.parse(raw);
  };
  try {
    return { method: 'GET', params: { query: search.get('query') ?? undefined, operationName: search.get('operationName') ?? undefined, variables: json('variables'), extensions: json('extensions') } };
  } catch {
    return { error: '`variables` and `extensions` must be JSON in a GET request.' };
  }
}

/** The GraphQL parameters of a POST body already parsed as JSON. */
export function paramsOfPost(body: unknown): HttpRequest {
  if (Array.isArray(body)) return { error: 'Batched operations are not supported: send one operation per request.' };
  if (!body || typeof body !== 'object') return { error: 'The body must be a JSON object with `query`.' };
  return { method: 'POST', params: body as OperationRequest };
}

/** Content negotiation, remembered per Accept header (clients send a handful of them). */
export class ResponseTypes {
  readonly #chosen = new Map<string, string>();

  of(accept: string | undefined): string {
    if (!accept) return JSON_TYPE;
    let chosen = this.#chosen.get(accept);
    if (chosen === undefined) {
      // application/json first: what a client gets when it accepts both alike (or */*), as legacy clients expect.
      const preferred = new Negotiator({ headers: { accept } }).mediaType([JSON_TYPE, GRAPHQL_RESPONSE_TYPE]);
      chosen = preferred ?? JSON_TYPE;
      if (this.#chosen.size >= MAX_REMEMBERED_ACCEPTS) this.#chosen.clear();
      this.#chosen.set(accept, chosen);
    }
    return chosen;
  }
}

export interface HttpTransportOptions {
  readonly engine: Engine;
  readonly formatError: ErrorFormatter;
  readonly responseTypes: ResponseTypes;
}

/** Answers one GraphQL request over plain HTTP. */
export async function serveHttpOperation(request: HttpRequest, accept: string | undefined, context: GatewayContext, res: ServerResponse, opts: HttpTransportOptions): Promise<void> {
  const type = opts.responseTypes.of(accept);
  if ('error' in request) {
    send(res, httpStatusOf(ErrorCode.BAD_REQUEST), type, { errors: [opts.formatError({ message: request.error, extensions: { code: ErrorCode.BAD_REQUEST } })] });
    return;
  }
  const prepared = opts.engine.prepare(request.params, 'http');
  if ('errors' in prepared) {
    send(res, statusOf(prepared, type), type, { errors: prepared.errors.map((e) => opts.formatError(e.toJSON())) });
    return;
  }
  if (prepared.type === 'subscription') {
    const message = 'Subscriptions are served over WebSocket (graphql-transport-ws) or multipart HTTP (Accept: multipart/mixed;subscriptionSpec=1.0).';
    send(res, httpStatusOf(ErrorCode.BAD_REQUEST), type, { errors: [opts.formatError({ message, extensions: { code: ErrorCode.BAD_REQUEST } })] });
    return;
  }
  if (prepared.type === 'mutation' && request.method === 'GET') {
    const message = 'Mutations are not allowed over GET: send a POST.';
    send(res, 405, type, { errors: [opts.formatError({ message, extensions: { code: ErrorCode.BAD_REQUEST } })] }, { allow: 'POST' });
    return;
  }
  const { result, failed } = await opts.engine.execute(prepared, context);
  sendText(res, failed ? 500 : 200, type, bodyOf(result));
}

/**
 * A request error's status: its own for a malformed request; for a GraphQL request error, 200 to
 * a client that accepts only application/json (it reads the body for errors), 4xx otherwise.
 */
function statusOf(refusal: Refusal, type: string): number {
  if (refusal.malformed) return refusal.status;
  return type === JSON_TYPE ? 200 : refusal.status;
}

type Body = { errors?: readonly GraphQLFormattedError[] | readonly unknown[]; data?: unknown; extensions?: unknown };

function send(res: ServerResponse, status: number, type: string, body: Body, headers: Record<string, string> = {}): void {
  sendText(res, status, type, serialize(body), headers);
}

/** `errors, data, extensions` (Apollo Server's order) and a newline. */
const serialize = (body: Body) => `${JSON.stringify({ errors: body.errors, data: body.data, extensions: body.extensions })}\n`;

/** Execution results serialized, each once: identical queries in flight share one result (the engine's inbound sharing). */
const bodies = new WeakMap<Body, string>();
function bodyOf(result: Body): string {
  let text = bodies.get(result);
  if (text === undefined) {
    text = serialize(result);
    bodies.set(result, text);
  }
  return text;
}

function sendText(res: ServerResponse, status: number, type: string, text: string, headers: Record<string, string> = {}): void {
  // no-store: answers hold personal data.
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}
