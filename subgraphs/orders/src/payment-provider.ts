import { createHash } from 'node:crypto';

export interface PaymentRequest {
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: { readonly amount: number; readonly currency: string };
  readonly paymentToken: string;
}
export type PaymentResult = { readonly approved: true; readonly authorizationId: string } | { readonly approved: false; readonly reason: string };

/** A payment provider; the real one would call a PSP over HTTP. */
export interface PaymentProvider {
  authorize(req: PaymentRequest, signal?: AbortSignal): Promise<PaymentResult>;
}

/**
 * The simulated provider of the public API: `tok_visa` approves, `tok_declined` declines,
 * `tok_timeout` never answers (until aborted), anything else declines with a reason.
 */
export function createSimulatedPaymentProvider(): PaymentProvider {
  return {
    authorize(req, signal) {
      switch (req.paymentToken) {
        case 'tok_visa':
          return Promise.resolve({
            approved: true,
            authorizationId: `auth_${createHash('sha256').update(req.orderId).digest('base64url').slice(0, 20)}`,
          });
        case 'tok_declined':
          return Promise.resolve({ approved: false, reason: 'card declined by the issuer' });
        case 'tok_timeout':
          return new Promise((_resolve, reject) => {
            signal?.addEventListener('abort', () => reject(new Error('payment provider did not answer')), { once: true });
          });
        default:
          return Promise.resolve({ approved: false, reason: `unknown payment token "${req.paymentToken}"` });
      }
    },
  };
}
