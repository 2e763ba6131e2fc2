import { errorCode, eventually, graphql } from './clients.js';

/** Operations the end-to-end tests share, written as a frontend would. */
export const PRODUCTS = /* GraphQL */ `
  query Products($first: Int, $after: String) {
    products(first: $first, after: $after) {
      edges { cursor node { id name price { amount currency } stock { available reserved sold } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

export const PRODUCT = /* GraphQL */ `
  query Product($id: ID!) { product(id: $id) { id name stock { available reserved sold } } }
`;

export const PLACE_ORDER = /* GraphQL */ `
  mutation Place($input: PlaceOrderInput!) {
    placeOrder(input: $input) { order { id status customerId total { amount currency } lines { quantity product { id name } } } }
  }
`;

export const ORDER = /* GraphQL */ `
  query Order($id: ID!) {
    order(id: $id) {
      id status customerId
      history { sequence status previous reason at }
      lines { quantity unitPrice { amount } product { name } }
      notifications { kind message }
    }
  }
`;

export const CANCEL_ORDER = /* GraphQL */ `
  mutation Cancel($id: ID!) { cancelOrder(id: $id) { id status } }
`;

export const RESTOCK = /* GraphQL */ `
  mutation Restock($productId: ID!, $quantity: Int!) { restock(productId: $productId, quantity: $quantity) { id stock { available } } }
`;

export const WATCH_ORDER = /* GraphQL */ `
  subscription Watch($orderId: ID!, $after: Int) {
    orderStatusChanged(orderId: $orderId, after: $after) {
      orderId sequence status previous reason at
      order { id lines { quantity product { name } } notifications { kind message } }
    }
  }
`;

export const FINAL_STATUSES = ['CONFIRMED', 'REJECTED', 'CANCELLED'] as const;

export interface Product {
  id: string;
  name: string;
  price: { amount: number; currency: string };
  stock: { available: number; reserved: number; sold: number };
}

export interface StatusChange {
  orderId: string;
  sequence: number;
  status: string;
  previous: string | null;
  reason: string | null;
  at: string;
  order: { id: string; lines: { quantity: number; product: { name: string } }[]; notifications: { kind: string; message: string }[] };
}

export async function listProducts(url: string): Promise<Product[]> {
  const r = await graphql<{ products: { edges: { node: Product }[] } }>(url, PRODUCTS, { first: 100 });
  if (!r.data) throw new Error(`products: ${JSON.stringify(r.errors)}`);
  return r.data.products.edges.map((e) => e.node);
}

export async function getProduct(url: string, id: string): Promise<Product> {
  const r = await graphql<{ product: Product }>(url, PRODUCT, { id });
  if (!r.data?.product) throw new Error(`product ${id}: ${JSON.stringify(r.errors)}`);
  return r.data.product;
}

export interface PlaceOrderInput {
  lines: { productId: string; quantity: number }[];
  paymentToken: string;
  idempotencyKey?: string;
}

export function placeOrder(url: string, token: string, input: PlaceOrderInput): Promise<{ id: string; status: string }> {
  return placeOrderWithHeaders(url, token, input, {});
}

/** `placeOrder` with extra request headers (a `traceparent`, say). */
export async function placeOrderWithHeaders(url: string, token: string, input: PlaceOrderInput, headers: Record<string, string>): Promise<{ id: string; status: string }> {
  const r = await graphql<{ placeOrder: { order: { id: string; status: string } } }>(url, PLACE_ORDER, { input }, { token, headers });
  if (!r.data?.placeOrder) throw new Error(`placeOrder failed (${errorCode(r)}): ${JSON.stringify(r.errors)}`);
  return r.data.placeOrder.order;
}

export async function getOrder(url: string, token: string, id: string) {
  const r = await graphql<{ order: { id: string; status: string; history: { sequence: number; status: string; reason: string | null }[] } }>(
    url,
    ORDER,
    { id },
    { token },
  );
  return r;
}

/** Waits until the order is in one of `statuses`; returns it. */
export async function waitForStatus(url: string, token: string, id: string, statuses: readonly string[], timeoutMs = 30_000) {
  return eventually(
    `order ${id} to reach ${statuses.join('|')}`,
    async () => {
      const r = await getOrder(url, token, id);
      const order = r.data?.order;
      return order && statuses.includes(order.status) ? order : undefined;
    },
    timeoutMs,
    150,
  );
}
