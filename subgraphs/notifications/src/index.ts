export { startNotificationsService, NOTIFICATIONS_GROUP, type NotificationsService, type StartNotificationsOptions } from './server.js';
export { loadNotificationsConfig, type NotificationsConfig } from './config.js';
export { createNotificationsProjector } from './projector.js';
export { createNotificationStore, type NotificationRecord } from './read-model.js';
export { KEY_PREFIX as NOTIFICATIONS_KEY_PREFIX } from './keys.js';
