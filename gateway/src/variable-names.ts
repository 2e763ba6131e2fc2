import type { OperationDefinitionNode } from 'graphql';
import { ErrorCode } from '@shop/service-kit';
import { GraphQLError } from './graphql.js';

/**
 * Names that are Object.prototype's machinery: graphql-js coerces variables into a plain object,
 * where `__proto__` replaces the prototype instead of adding a value (and ended as an
 * INTERNAL_SERVER_ERROR). No honest operation needs them.
 */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/** BAD_USER_INPUT for a variable (declared, or sent) with a reserved name; `undefined` when there is none. */
export function checkVariableNames(operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>> | null | undefined): GraphQLError | undefined {
  const declared = (operation.variableDefinitions ?? []).map((d) => d.variable.name.value);
  const sent = variables && typeof variables === 'object' ? Object.keys(variables) : [];
  const name = [...declared, ...sent].find((n) => RESERVED.has(n));
  if (name === undefined) return undefined;
  return new GraphQLError(`Variable "$${name}" is not allowed: choose another name.`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT },
  });
}
