import { DEFAULT_PORTS, envBoolean, parseEnv, serviceConfigFrom, serviceEnvSchema, type EnvSource, type ServiceConfig } from '@shop/service-kit';

const schema = serviceEnvSchema(DEFAULT_PORTS.inventory, {
  SEED_CATALOG: envBoolean(true),
});

export interface InventoryConfig extends ServiceConfig {
  /** Publish the seed catalog (ProductRegistered, idempotent) at start. */
  readonly seedCatalog: boolean;
}

export function loadInventoryConfig(env: EnvSource = process.env): InventoryConfig {
  const e = parseEnv('inventory', schema, env);
  return {
    ...serviceConfigFrom(e),
    seedCatalog: e.SEED_CATALOG,
  };
}
