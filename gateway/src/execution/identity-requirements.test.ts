import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from '../graphql.js';
import { buildPlanning, planOperation } from './apollo-federation.js';
import { IdentityRequirements } from './identity-requirements.js';

const supergraph = readFileSync(fileURLToPath(new URL('../../supergraph.graphql', import.meta.url)), 'utf8');
const planning = buildPlanning(supergraph, { validate: true });
const requirements = new IdentityRequirements(planning.supergraphSchema);
const planOf = (query: string) => planOperation(planning, parse(query), undefined).plan;

describe('which subgraph fetches need the caller identity (from @authenticated in the committed supergraph)', () => {
  it('public reads need none', () => {
    expect(requirements.needsIdentity('query Catalog__inventory__0{products(first:20){edges{node{id name price{amount currency}}}pageInfo{hasNextPage}}}')).toBe(false);
    expect(requirements.needsIdentity('query($id:ID!){product(id:$id){__typename id name stock{available}}}')).toBe(false);
    // Products of an order's lines, fetched as entities: public, whoever's order they came from.
    expect(requirements.needsIdentity('query($representations:[_Any!]!){_entities(representations:$representations){...on Product{name price{amount}}}}')).toBe(false);
    expect(requirements.needsIdentity('query($representations:[_Any!]!){_entities(representations:$representations){...P}} fragment P on Product{name}')).toBe(false);
  });

  it('personal reads need it: marked fields, marked types, entities of marked types', () => {
    expect(requirements.needsIdentity('query($id:ID!){order(id:$id){id status}}')).toBe(true);
    expect(requirements.needsIdentity('{myOrders{edges{node{id}}}}')).toBe(true);
    expect(requirements.needsIdentity('{unreadNotificationCount}')).toBe(true);
    expect(requirements.needsIdentity('{myNotifications{edges{node{message}}}}')).toBe(true);
    expect(requirements.needsIdentity('query($representations:[_Any!]!){_entities(representations:$representations){...on Order{notifications{message}}}}')).toBe(true);
    expect(requirements.needsIdentity('query($representations:[_Any!]!){_entities(representations:$representations){...O}} fragment O on Order{status}')).toBe(true);
  });

  it('anything else needs it: mutations, subscriptions, unknown fields or types, unparsable text', () => {
    expect(requirements.needsIdentity('mutation{restock(productId:"p1",quantity:1){id}}')).toBe(true);
    expect(requirements.needsIdentity('subscription{stockChanged(productId:"p1"){id}}')).toBe(true);
    expect(requirements.needsIdentity('{product(id:"p1"){secret}}')).toBe(true);
    expect(requirements.needsIdentity('{_entities(representations:[]){...on Nope{id}}}')).toBe(true);
    expect(requirements.needsIdentity('{_entities(representations:[]){id}}')).toBe(true);
    expect(requirements.needsIdentity('{products{...Missing}}')).toBe(true);
    expect(requirements.needsIdentity('{product(')).toBe(true);
  });

  it('a client query needs it when any fetch of its plan does: its answer can depend on who asks only through those', () => {
    expect(requirements.planNeedsIdentity(planOf('{ products(first: 5) { edges { node { id name price { amount } stock { available } } } } }'))).toBe(false);
    expect(requirements.planNeedsIdentity(planOf('query($id: ID!) { product(id: $id) { id name } }'))).toBe(false);
    // The order's fetch needs it, its products' entity fetch does not: the answer as a whole does.
    expect(requirements.planNeedsIdentity(planOf('query($id: ID!) { order(id: $id) { id lines { product { id name } } } }'))).toBe(true);
    // Public first, personal in a later fetch: still the caller's.
    expect(requirements.planNeedsIdentity(planOf('{ products(first: 1) { edges { node { id } } } unreadNotificationCount }'))).toBe(true);
    expect(requirements.planNeedsIdentity(planOf('mutation { restock(productId: "p1", quantity: 1) { id } }'))).toBe(true);
  });
});
