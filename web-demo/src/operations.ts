import { gql, type TypedDocumentNode } from '@apollo/client';
import type { MoneyLike } from './format.js';

export type OrderStatus = 'PENDING' | 'INVENTORY_RESERVED' | 'PAYMENT_AUTHORIZED' | 'CONFIRMED' | 'REJECTED' | 'CANCELLED';

export const FINAL_STATUSES: readonly OrderStatus[] = ['CONFIRMED', 'REJECTED', 'CANCELLED'];
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED'];

export interface Money extends MoneyLike {
  __typename?: 'Money';
}

export interface Stock {
  __typename?: 'Stock';
  available: number;
  reserved: number;
}

export interface Product {
  __typename?: 'Product';
  id: string;
  name: string;
  description?: string | null;
  price: Money;
  stock: Stock;
}

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
}

export interface OrderStatusChange {
  __typename?: 'OrderStatusChange';
  orderId: string;
  sequence: number;
  status: OrderStatus;
  previous: OrderStatus | null;
  reason: string | null;
  at: string;
}

export interface OrderLine {
  product: { __typename?: 'Product'; id: string; name: string };
  quantity: number;
  unitPrice: Money;
}

export interface Order {
  __typename?: 'Order';
  id: string;
  customerId: string;
  status: OrderStatus;
  total: Money;
  createdAt: string;
  updatedAt: string;
  lines: OrderLine[];
}

export interface OrderWithHistory extends Order {
  history: OrderStatusChange[];
}

export interface Notification {
  __typename?: 'Notification';
  id: string;
  orderId: string;
  kind: string;
  message: string;
  createdAt: string;
  read: boolean;
}

const PRODUCT_FIELDS = gql`
  fragment ProductFields on Product {
    id
    name
    description
    price {
      amount
      currency
    }
    stock {
      available
      reserved
    }
  }
`;

const ORDER_FIELDS = gql`
  fragment OrderFields on Order {
    id
    customerId
    status
    createdAt
    updatedAt
    total {
      amount
      currency
    }
    lines {
      quantity
      unitPrice {
        amount
        currency
      }
      product {
        id
        name
      }
    }
  }
`;

const CHANGE_FIELDS = gql`
  fragment ChangeFields on OrderStatusChange {
    orderId
    sequence
    status
    previous
    reason
    at
  }
`;

export const PRODUCTS: TypedDocumentNode<
  { products: Connection<Product> },
  { first?: number; after?: string | null }
> = gql`
  query Products($first: Int, $after: String) {
    products(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...ProductFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
  ${PRODUCT_FIELDS}
`;

export const PRODUCT_STOCK: TypedDocumentNode<{ product: Pick<Product, 'id' | 'stock'> | null }, { id: string }> = gql`
  query ProductStock($id: ID!) {
    product(id: $id) {
      id
      stock {
        available
        reserved
      }
    }
  }
`;

export const STOCK_CHANGED: TypedDocumentNode<
  { stockChanged: Pick<Product, 'id' | 'stock'> },
  { productId: string }
> = gql`
  subscription StockChanged($productId: ID!) {
    stockChanged(productId: $productId) {
      id
      stock {
        available
        reserved
      }
    }
  }
`;

export const RESTOCK: TypedDocumentNode<
  { restock: Pick<Product, 'id' | 'stock'> },
  { productId: string; quantity: number }
> = gql`
  mutation Restock($productId: ID!, $quantity: Int!) {
    restock(productId: $productId, quantity: $quantity) {
      id
      stock {
        available
        reserved
      }
    }
  }
`;

export interface PlaceOrderInput {
  lines: { productId: string; quantity: number }[];
  paymentToken: string;
  idempotencyKey: string;
}

export const PLACE_ORDER: TypedDocumentNode<{ placeOrder: { order: Order } }, { input: PlaceOrderInput }> = gql`
  mutation PlaceOrder($input: PlaceOrderInput!) {
    placeOrder(input: $input) {
      order {
        ...OrderFields
      }
    }
  }
  ${ORDER_FIELDS}
`;

export const CANCEL_ORDER: TypedDocumentNode<{ cancelOrder: Pick<Order, 'id' | 'status' | 'updatedAt'> }, { id: string }> =
  gql`
    mutation CancelOrder($id: ID!) {
      cancelOrder(id: $id) {
        id
        status
        updatedAt
      }
    }
  `;

export const ORDER: TypedDocumentNode<{ order: OrderWithHistory | null }, { id: string }> = gql`
  query Order($id: ID!) {
    order(id: $id) {
      ...OrderFields
      history {
        ...ChangeFields
      }
    }
  }
  ${ORDER_FIELDS}
  ${CHANGE_FIELDS}
`;

export const ORDER_STATUS_CHANGED: TypedDocumentNode<
  { orderStatusChanged: OrderStatusChange },
  { orderId: string; after?: number }
> = gql`
  subscription OrderStatusChanged($orderId: ID!, $after: Int) {
    orderStatusChanged(orderId: $orderId, after: $after) {
      ...ChangeFields
    }
  }
  ${CHANGE_FIELDS}
`;

export const MY_ORDERS: TypedDocumentNode<{ myOrders: Connection<Order> }, { first?: number; after?: string | null }> = gql`
  query MyOrders($first: Int, $after: String) {
    myOrders(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...OrderFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
  ${ORDER_FIELDS}
`;

const NOTIFICATION_FIELDS = gql`
  fragment NotificationFields on Notification {
    id
    orderId
    kind
    message
    createdAt
    read
  }
`;

export const NOTIFICATIONS: TypedDocumentNode<
  { myNotifications: Connection<Notification>; unreadNotificationCount?: number | null },
  { first?: number }
> = gql`
  query Notifications($first: Int) {
    myNotifications(first: $first) {
      edges {
        cursor
        node {
          ...NotificationFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
    unreadNotificationCount
  }
  ${NOTIFICATION_FIELDS}
`;

export const NOTIFICATION_ADDED: TypedDocumentNode<{ notificationAdded: Notification }, Record<string, never>> = gql`
  subscription NotificationAdded {
    notificationAdded {
      ...NotificationFields
    }
  }
  ${NOTIFICATION_FIELDS}
`;

export const MARK_NOTIFICATION_READ: TypedDocumentNode<
  { markNotificationRead: Pick<Notification, 'id' | 'read'> },
  { id: string }
> = gql`
  mutation MarkNotificationRead($id: ID!) {
    markNotificationRead(id: $id) {
      id
      read
    }
  }
`;

export const PING: TypedDocumentNode<{ __typename: string }, Record<string, never>> = gql`
  query Ping {
    __typename
  }
`;
