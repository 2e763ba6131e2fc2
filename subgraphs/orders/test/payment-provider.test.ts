import { describe, expect, it } from 'vitest';
import { createSimulatedPaymentProvider } from '../src/payment-provider.js';

const req = (paymentToken: string) => ({ orderId: 'ord_x', customerId: 'c', amount: { amount: 100, currency: 'USD' }, paymentToken });

describe('simulated payment provider', () => {
  const provider = createSimulatedPaymentProvider();
  it('tok_visa approves with a stable authorization id', async () => {
    const a = await provider.authorize(req('tok_visa'));
    expect(a).toMatchObject({ approved: true });
    expect(await provider.authorize(req('tok_visa'))).toEqual(a);
  });
  it('tok_declined declines', async () => {
    expect(await provider.authorize(req('tok_declined'))).toEqual({ approved: false, reason: 'card declined by the issuer' });
  });
  it('unknown tokens decline with a reason', async () => {
    expect(await provider.authorize(req('tok_mystery'))).toEqual({ approved: false, reason: 'unknown payment token "tok_mystery"' });
  });
  it('tok_timeout never answers until aborted', async () => {
    const controller = new AbortController();
    const p = provider.authorize(req('tok_timeout'), controller.signal);
    const raced = await Promise.race([p.then(() => 'answered'), new Promise((r) => setTimeout(() => r('silent'), 50))]);
    expect(raced).toBe('silent');
    controller.abort();
    await expect(p).rejects.toThrow(/did not answer/);
  });
});
