/**
 * graphql-js, always its CommonJS build. @apollo/gateway and @apollo/server (and graphql-ws) load
 * `graphql` through Node's resolution, which picks `index.js`; a bundler-style resolver (vitest/vite)
 * picks the package's `module` field (`index.mjs`) for our own sources instead, and two copies of
 * graphql-js refuse each other's schemas and errors ("Cannot use GraphQLSchema from another
 * module or realm"). Importing values from here keeps one copy everywhere; types can still come
 * from 'graphql' directly.
 */
import { createRequire } from 'node:module';

const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');

export const {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  graphql: executeGraphQL,
  isAbstractType,
  isInterfaceType,
  isListType,
  isObjectType,
  parse,
  print,
  buildSchema,
  validate,
} = graphql;
export type GraphQLError = import('graphql').GraphQLError;
