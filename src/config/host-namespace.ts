/**
 * What a collector host keeps outside BUFFER_DIR is named by HOST_NAMESPACE and the port, so
 * several hosts on one machine (tests, demos, a box running two clusters) never attach to each
 * other's shared-memory tables. BUFFER_DIR (spill logs, locks, the order table) and RUN_DIR
 * (default BUFFER_DIR + '-run') are per host already, because each host has its own BUFFER_DIR.
 */
import type { Config } from './schema.js';

/** The name in /dev/shm/event-collector-<name>.{dedup,quota}: `<HOST_NAMESPACE>-<PORT>`, or `<PORT>` without one. */
export function hostTableName(config: Pick<Config, 'HOST_NAMESPACE' | 'PORT'>): string {
  return config.HOST_NAMESPACE ? `${config.HOST_NAMESPACE}-${config.PORT}` : String(config.PORT);
}
