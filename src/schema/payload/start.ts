/**
 * The payload schemas at start, before the decode pool: its workers read the set from the shared channel on their
 * first task, so the set is loaded (from SCHEMA_DIR or the registry) and its reload timer started first.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { SchemaMetrics } from '../../telemetry/schema-metrics.js';
import type { Telemetry } from '../../telemetry/telemetry.js';
import { registrySourceFrom } from './registry.js';
import { PayloadSchemas } from './service.js';

export async function startPayloadSchemas(config: Config, telemetry: Telemetry, log: Logger): Promise<{ schemas: PayloadSchemas; schemaMetrics: SchemaMetrics }> {
  const schemaMetrics = new SchemaMetrics(telemetry.registry);
  const registry = registrySourceFrom(config, (reason) => schemaMetrics.registryAnswerRefused(reason));
  const schemas: PayloadSchemas = new PayloadSchemas({
    dir: config.SCHEMA_DIR,
    compatibility: config.SCHEMA_COMPATIBILITY,
    ...(registry ? { source: registry } : {}),
    reloadMs: registry ? config.SCHEMA_REGISTRY_REFRESH_MS : config.SCHEMA_RELOAD_MS,
    log,
    onReload: (result) => schemaMetrics.reloaded(result, schemas.snapshot.generation),
  });
  await schemas.load();
  schemaMetrics.loaded(schemas.snapshot.generation);
  schemas.start();
  return { schemas, schemaMetrics };
}
