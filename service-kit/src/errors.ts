import { GraphQLError } from 'graphql';

export interface ErrorCodeInfo {
  /** HTTP status when the error decides the response's status (a JSON answer may still be 200, see docs/errors.md). */
  readonly httpStatus: number;
  /** Whether the same request may succeed later. */
  readonly retriable: boolean;
  /**
   * Whether a client may read the message in production. The others describe our own failures,
   * not the request: their message and extensions are replaced (the code kept as INTERNAL_SERVER_ERROR).
   */
  readonly public: boolean;
  /**
   * `api`: raised by the services' resolvers; `gateway`: raised by the gateway before or around
   * execution; `graphql`: GraphQL request errors (parse, validation, operation, persisted queries),
   * raised by the gateway's engine and by the subgraphs' Apollo Server alike.
   */
  readonly origin: 'api' | 'gateway' | 'graphql';
  readonly meaning: string;
}

/**
 * Every `extensions.code` a client may get, in one table (docs/errors.md renders it; a test keeps
 * the two equal and checks that no code outside it is raised anywhere). Any other code reaching the
 * gateway (a subgraph's library, say) is treated as not public.
 */
const ERROR_CODES = {
  UNAUTHENTICATED: { httpStatus: 401, retriable: false, public: true, origin: 'api', meaning: 'no valid token, or personal data asked for anonymously' },
  FORBIDDEN: { httpStatus: 403, retriable: false, public: true, origin: 'api', meaning: 'an admin-only operation by a customer' },
  BAD_USER_INPUT: { httpStatus: 400, retriable: false, public: true, origin: 'api', meaning: 'an argument or variable outside what the operation accepts' },
  NOT_FOUND: { httpStatus: 404, retriable: false, public: true, origin: 'api', meaning: 'no such thing, or one the caller may not see' },
  CONFLICT: { httpStatus: 409, retriable: false, public: true, origin: 'api', meaning: 'the state does not allow it (e.g. cancelling a confirmed order)' },
  RATE_LIMITED: { httpStatus: 429, retriable: true, public: true, origin: 'api', meaning: 'too many requests, connections or subscriptions' },
  INTERNAL_SERVER_ERROR: { httpStatus: 500, retriable: true, public: false, origin: 'api', meaning: 'a fault of ours; the message is masked in production' },
  QUERY_TOO_COMPLEX: { httpStatus: 400, retriable: false, public: true, origin: 'gateway', meaning: 'over a depth, alias or cost limit (`extensions.limit`)' },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, retriable: false, public: true, origin: 'gateway', meaning: 'a body over MAX_BODY_BYTES' },
  BAD_REQUEST: {
    httpStatus: 400,
    retriable: false,
    public: true,
    origin: 'gateway',
    meaning: 'malformed JSON or request shape, a subscription over plain HTTP, a mutation over GET, a request without CSRF protection',
  },
  UPSTREAM_UNAVAILABLE: { httpStatus: 502, retriable: true, public: true, origin: 'gateway', meaning: 'a subgraph could not be reached, answered without a GraphQL response, or could not be (re)subscribed' },
  DOWNSTREAM_SERVICE_ERROR: { httpStatus: 502, retriable: true, public: false, origin: 'gateway', meaning: "a subgraph's error that came without a code (@apollo/gateway's name); masked in production" },
  SERVICE_UNAVAILABLE: { httpStatus: 503, retriable: true, public: true, origin: 'gateway', meaning: 'the gateway is starting or shutting down' },
  GRAPHQL_PARSE_FAILED: { httpStatus: 400, retriable: false, public: true, origin: 'graphql', meaning: 'the operation text does not parse' },
  GRAPHQL_VALIDATION_FAILED: { httpStatus: 400, retriable: false, public: true, origin: 'graphql', meaning: 'the operation does not validate against the schema (introspection included, in production)' },
  PERSISTED_QUERY_NOT_FOUND: { httpStatus: 200, retriable: true, public: true, origin: 'graphql', meaning: 'APQ: send the full text once' },
  PERSISTED_QUERY_NOT_SUPPORTED: { httpStatus: 200, retriable: false, public: true, origin: 'graphql', meaning: 'APQ is off' },
  OPERATION_RESOLUTION_FAILURE: { httpStatus: 400, retriable: false, public: true, origin: 'graphql', meaning: 'no operation, or an ambiguous operation name' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** `extensions.code` values by name: `ErrorCode.NOT_FOUND === 'NOT_FOUND'`. */
export const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERROR_CODES).map((code) => [code, code]))) as { readonly [C in ErrorCode]: C };

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** A code a resolver raises (the API's own list), as opposed to the gateway's and Apollo Server's. */
export function isApiErrorCode(code: unknown): code is ErrorCode {
  return isErrorCode(code) && ERROR_CODES[code].origin === 'api';
}

/** Whether a client may read the message of an error with this code in production. */
export function isClientFacingCode(code: unknown): code is ErrorCode {
  return isErrorCode(code) && ERROR_CODES[code].public;
}

/** The whole catalog, for docs and tests. */
export const errorCatalog: Readonly<Record<ErrorCode, ErrorCodeInfo>> = ERROR_CODES;

export function isRetriableCode(code: ErrorCode): boolean {
  return ERROR_CODES[code].retriable;
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].httpStatus;
}

export function appError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status: httpStatusOf(code) }, ...extra } });
}

export const badUserInput = (message: string, extra?: Record<string, unknown>) => appError(ErrorCode.BAD_USER_INPUT, message, extra);
export const unauthenticated = (message = 'Sign in first: send Authorization: Bearer <token>.') => appError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message = 'You may not access this.') => appError(ErrorCode.FORBIDDEN, message);
export const notFound = (message: string) => appError(ErrorCode.NOT_FOUND, message);
export const conflict = (message: string) => appError(ErrorCode.CONFLICT, message);
