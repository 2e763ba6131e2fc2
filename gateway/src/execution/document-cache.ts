import type { DocumentNode, GraphQLSchema, ValidationRule } from 'graphql';
import { GraphQLError, parse, validate } from '../graphql.js';
import { ErrorCode } from '@shop/service-kit';

export type CheckedDocument = { document: DocumentNode; query: string; schema: GraphQLSchema } | { errors: readonly GraphQLError[] };

/** Texts longer than this are parsed every time: their syntax trees weigh about 30 times the text. */
const MAX_CACHED_TEXT_CHARS = 16 * 1024;
/** Total text kept (about 30 MiB of syntax trees at most, Apollo Server's own document cache size). */
const MAX_TOTAL_TEXT_CHARS = 1024 * 1024;

/**
 * Parsed and validated documents by query text, per schema, least recently used first out: 10,000
 * clients sending the same subscription are parsed and validated once, not 10,000 times. Bounded
 * by the size of what it holds, not only by count, and never holding failures: invalid texts are
 * what a client can vary freely, and an error keeps its whole syntax tree alive.
 */
export class DocumentCache {
  /** `query` is the first copy of the text seen, shared by everything that keeps it (10,000 subscribers). */
  #entries = new Map<string, { readonly document: DocumentNode; readonly query: string }>();
  #chars = 0;
  #schema: GraphQLSchema | undefined;

  /** `rules`: graphql-js's validation rules by default (the engine adds one refusing introspection in production). */
  constructor(private readonly rules?: readonly ValidationRule[]) {}

  check(schema: GraphQLSchema, query: string): CheckedDocument {
    if (schema !== this.#schema) {
      this.#entries = new Map();
      this.#chars = 0;
      this.#schema = schema;
    }
    const cached = this.#entries.get(query);
    if (cached) {
      // Most recently used goes last.
      this.#entries.delete(query);
      this.#entries.set(query, cached);
      return { document: cached.document, query: cached.query, schema };
    }
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      return { errors: [new GraphQLError((err as GraphQLError).message, { extensions: { code: ErrorCode.GRAPHQL_PARSE_FAILED } })] };
    }
    const validationErrors = validate(schema, document, this.rules);
    if (validationErrors.length) {
      return { errors: validationErrors.map((e) => new GraphQLError(e.message, { nodes: e.nodes ?? null, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } })) };
    }
    if (query.length <= MAX_CACHED_TEXT_CHARS) {
      this.#entries.set(query, { document, query });
      this.#chars += query.length;
      for (const [oldest] of this.#entries) {
        if (this.#chars <= MAX_TOTAL_TEXT_CHARS) break;
        this.#entries.delete(oldest);
        this.#chars -= oldest.length;
      }
    }
    return { document, query, schema };
  }
}
