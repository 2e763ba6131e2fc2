import { describe, expect, it } from 'vitest';
import { getIntrospectionQuery } from 'graphql';
import { buildSchema, getOperationAST, parse } from './graphql.js';
import { checkComplexity, INTROSPECTION_MAX_DEPTH, measureOperation } from './limits.js';

const schema = buildSchema(`
  type Query { products(first: Int = 50): ProductConnection! product(id: ID!): Product tags: [String!]! related: [Product!]! }
  type ProductConnection { edges: [ProductEdge!]! }
  type ProductEdge { node: Product! }
  type Product { id: ID! name: String! related: [Product!]! }
`);

const measure = (query: string, variables: Record<string, unknown> = {}) => {
  const doc = parse(query);
  return measureOperation(schema, doc, getOperationAST(doc)!, variables);
};

describe('operation complexity', () => {
  it('says whether a variable sized a list, so that other measures can be reused for any variables', () => {
    expect(measure('query($n: Int) { products(first: $n) { edges { node { id } } } }', { n: 5 }).readVariables).toBe(true);
    expect(measure('query($id: ID!) { product(id: $id) { related { id } } }', { id: 'p1' }).readVariables).toBe(false);
  });

  it('counts depth from the root field', () => {
    expect(measure('{ product(id: 1) { id } }').depth).toBe(2);
    expect(measure('{ product(id: 1) { related { related { id } } } }').depth).toBe(4);
  });

  it('counts aliases, including inside fragments', () => {
    expect(measure('{ a: product(id: 1) { ...F } } fragment F on Product { n: name }').aliases).toBe(2);
  });

  it('multiplies by first (given, from a variable, or the default) and lists by 10', () => {
    expect(measure('{ products(first: 2) { edges { node { name } } } }').cost).toBe(1 + 2 * (1 + (1 + 1)));
    expect(measure('query($n: Int) { products(first: $n) { edges { node { name } } } }', { n: 3 }).cost).toBe(1 + 3 * 3);
    expect(measure('{ products { edges { node { name } } } }').cost).toBe(1 + 50 * 3);
    expect(measure('{ related { name } }').cost).toBe(1 + 10 * 1);
    expect(measure('{ tags }').cost).toBe(1);
  });

  it('counts every field and alias, __typename included (1,000 __typename aliases are 1,000 fields)', () => {
    const typenames = `{ ${Array.from({ length: 1_000 }, (_, i) => `t${i}: __typename`).join(' ')} }`;
    expect(measure(typenames)).toMatchObject({ aliases: 1_000, cost: 1_000, depth: 1 });
    expect(checkComplexity(measure(typenames), { maxDepth: 12, maxAliases: 30, maxCost: 5_000 })?.extensions).toMatchObject({ limit: 'aliases', actual: 1_000 });
    expect(measure('{ product(id: 1) { __typename id } }')).toMatchObject({ cost: 3, depth: 2 });
    // Under products(first: 50), each __typename of a node is answered 50 times.
    expect(measure('{ products { edges { node { __typename } } } }').cost).toBe(1 + 50 * 3);
    const wide = `{ products(first: 100) { edges { node { ${'__typename '.repeat(200)} } } } }`;
    expect(checkComplexity(measure(wide), { maxDepth: 12, maxAliases: 30, maxCost: 5_000 })?.extensions).toMatchObject({ limit: 'cost' });
  });

  it('holds introspection to its own depth, so the standard introspection query passes and a deeper one does not', () => {
    const standard = measure(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }));
    expect(checkComplexity(standard, { maxDepth: 12, maxAliases: 30, maxCost: 5_000 })).toBeUndefined();
    let nested = 'name';
    for (let i = 0; i < INTROSPECTION_MAX_DEPTH; i++) nested = `ofType { ${nested} }`;
    const deep = measure(`{ __type(name: "Product") { ${nested} } }`);
    expect(checkComplexity(deep, { maxDepth: 12, maxAliases: 30, maxCost: 5_000 })?.extensions).toMatchObject({ limit: 'depth', max: INTROSPECTION_MAX_DEPTH });
    expect(measure('{ a: __schema { b: queryType { name } } }').aliases).toBe(2);
  });

  it('refuses with QUERY_TOO_COMPLEX naming the limit', () => {
    const err = checkComplexity({ depth: 3, aliases: 0, cost: 99 }, { maxDepth: 2, maxAliases: 1, maxCost: 10 });
    expect(err?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 2, actual: 3 });
    expect(checkComplexity({ depth: 1, aliases: 0, cost: 11 }, { maxDepth: 2, maxAliases: 1, maxCost: 10 })?.extensions.limit).toBe('cost');
    expect(checkComplexity({ depth: 1, aliases: 0, cost: 1 }, { maxDepth: 2, maxAliases: 1, maxCost: 10 })).toBeUndefined();
  });
});
