import type { ChannelPubSub } from '@shop/service-kit';
import type { AnyEvent } from '@shop/events';
import type { HandleOutcome, HandlerContext } from '@shop/events/kafka';
import { notificationChannels } from './keys.js';
import { describeChange, type createNotificationsProjector } from './projector.js';

/** The one event notifications are made of. */
export const NOTIFICATION_SOURCE_TYPES = ['OrderStatusChanged'] as const;

/** Whether an event makes a notification (a final status), known from the event alone. */
export function notifies(event: AnyEvent): boolean {
  return event.type === 'OrderStatusChanged' && describeChange(event.payload.status, event.payload.orderId, event.payload.reason) !== null;
}

/** Live: project the change, then push a new notification to the customer's channel. */
export function createNotificationHandler(deps: { projector: ReturnType<typeof createNotificationsProjector>; pubsub: ChannelPubSub }) {
  return {
    async handle(event: AnyEvent, ctx: Pick<HandlerContext, 'afterEmit'>): Promise<HandleOutcome> {
      const recorded = await deps.projector.project(event);
      if (!recorded) return 'ignored';
      ctx.afterEmit(() => deps.pubsub.publish(notificationChannels.customer(recorded.customerId), recorded));
      return 'ok';
    },
  };
}
