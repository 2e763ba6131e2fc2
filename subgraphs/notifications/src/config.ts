import { DEFAULT_PORTS, parseEnv, serviceConfigFrom, serviceEnvSchema, type EnvSource, type ServiceConfig } from '@shop/service-kit';

const schema = serviceEnvSchema(DEFAULT_PORTS.notifications, {});

export type NotificationsConfig = ServiceConfig;

export function loadNotificationsConfig(env: EnvSource = process.env): NotificationsConfig {
  return serviceConfigFrom(parseEnv('notifications', schema, env));
}
