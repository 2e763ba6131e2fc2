import type { OrderStatus } from '../operations.js';

export const STATUS_LABEL: Record<OrderStatus, string> = {
  PENDING: 'Order placed',
  INVENTORY_RESERVED: 'Items reserved',
  PAYMENT_AUTHORIZED: 'Payment authorized',
  CONFIRMED: 'Confirmed',
  REJECTED: 'Rejected',
  CANCELLED: 'Cancelled',
};

export function statusTone(status: OrderStatus): 'ok' | 'bad' | 'warn' | 'progress' {
  switch (status) {
    case 'CONFIRMED':
      return 'ok';
    case 'REJECTED':
      return 'bad';
    case 'CANCELLED':
      return 'warn';
    default:
      return 'progress';
  }
}

export function StatusBadge({ status, testId }: { status: OrderStatus; testId?: string }) {
  return (
    <span className={`badge badge-${statusTone(status)}`} data-testid={testId} data-status={status}>
      {STATUS_LABEL[status] ?? status}
    </span>
  );
}
