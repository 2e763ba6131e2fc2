import { GraphQLScalarType, Kind } from 'graphql';
import { badUserInput } from './errors.js';

/** The `DateTime` scalar every subgraph declares: ISO-8601 strings in UTC, bad input as BAD_USER_INPUT. */
export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An ISO-8601 date-time in UTC',
  serialize: (v) => (v instanceof Date ? v.toISOString() : String(v)),
  parseValue: (v) => {
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw badUserInput(`Expected an ISO-8601 date-time, got ${String(v)}.`);
    return v;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING || Number.isNaN(Date.parse(ast.value))) throw badUserInput('Expected an ISO-8601 date-time string.');
    return ast.value;
  },
});
