import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import { ErrorCode, isClientFacingCode } from '@shop/service-kit';
import type { GraphQLError } from './graphql.js';

export type ErrorFormatter = (formatted: GraphQLFormattedError) => GraphQLFormattedError;

const INTERNAL_MESSAGE = 'Internal server error';

/**
 * What every error the gateway sends goes through (every transport, the engine's results,
 * subscription events over WebSocket and multipart, refusals):
 *  - `stacktrace` (and `exception`) never reach a client, in any mode: a subgraph's stack describes
 *    the subgraph, and the gateway's own stacks are in its log;
 *  - `http` is a server-side status hint;
 *  - in production, an error whose code is not in the error-code list (service-kit), or is
 *    INTERNAL_SERVER_ERROR, keeps only its path: message and extensions are replaced.
 */
export function createErrorFormatter(production: boolean): ErrorFormatter {
  return (formatted) => {
    const { stacktrace: _stack, exception: _exception, http: _http, ...extensions } = formatted.extensions ?? {};
    if (production && !isClientFacingCode(extensions.code)) {
      return { message: INTERNAL_MESSAGE, ...(formatted.path ? { path: formatted.path } : {}), extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    return { ...formatted, extensions: { ...extensions, code: extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}

/** A result with its errors formatted, ready to serialize (GraphQLErrors become plain objects). */
export function formatResult(result: ExecutionResult, formatError: ErrorFormatter): ExecutionResult {
  if (!result.errors?.length) return result;
  const errors = result.errors.map((e) => formatError(typeof (e as Partial<GraphQLError>).toJSON === 'function' ? e.toJSON() : (e as GraphQLFormattedError)));
  return { ...result, errors: errors as unknown as ExecutionResult['errors'] };
}
