/**
 * Who may write and how fast, as one process sets it up: the keyring (AUTH_MODE=api_key)
 * and the per-tenant quotas, each loaded at start (a bad file stops the start: failing
 * open would let everyone in) and re-read every AUTH_RELOAD_MS (a bad file then keeps the
 * last good one in force and is logged). The metric label set follows both files.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { Keyring } from './keyring.js';
import { parseKeysFile } from './keys-file.js';
import { pollFile, type FilePoller } from './reload.js';
import { QuotaPolicy, quotasOfFileText, type QuotaWait } from '../quota/policy.js';
import { QuotaTable, defaultQuotaPath } from '../quota/table.js';
import { hostTableName } from '../config/host-namespace.js';
import { SharedBuckets } from '../shared-store/buckets.js';
import type { SharedStore } from '../shared-store/store.js';

export interface Access {
  keyring: Keyring | null;
  quota: QuotaPolicy<QuotaWait> | null;
  close(): void;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** `store`: the shared store (REDIS_URL), where the tenant buckets then live; null: the host's table alone. */
export function openAccess(config: Readonly<Config>, log: Logger, telemetry: Telemetry, store: SharedStore | null = null): Access {
  const pollers: FilePoller[] = [];
  let keyring: Keyring | null = null;
  let quota: QuotaPolicy<QuotaWait> | null = null;
  let table: QuotaTable | null = null;
  const relabel = () => telemetry.knownTenants([...(keyring?.tenants ?? []), ...(quota?.tenants ?? [])]);

  if (config.AUTH_MODE === 'api_key') {
    const path = config.API_KEYS_FILE;
    const ring = new Keyring();
    keyring = ring;
    pollers.push(
      pollFile(path, config.AUTH_RELOAD_MS, (text, initial) => {
        ring.replace(parseKeysFile(text, path));
        relabel();
        log.info({ file: path, ...ring.size, version: ring.version }, initial ? 'AUTH_MODE=api_key: API keys loaded' : 'API keys reloaded');
      }, (err) => log.error({ file: path, err: err.message }, 'API keys file unreadable or invalid: the previous keys stay in force')),
    );
  } else if (!isLoopback(config.HOST)) {
    log.warn(
      { host: config.HOST, port: config.PORT },
      'AUTHENTICATION IS OFF (AUTH_MODE=none) and the collector listens beyond loopback: anyone who can reach this port can write events for any tenant, at any rate. Set AUTH_MODE=api_key (docs/auth-and-quotas.md)',
    );
  }

  const quotaFile = config.TENANT_QUOTAS_FILE || config.API_KEYS_FILE;
  if (quotaFile) {
    table = QuotaTable.open(config.QUOTA_PATH || defaultQuotaPath(hostTableName(config)));
    const policy: QuotaPolicy<QuotaWait> = store ? new QuotaPolicy(new SharedBuckets(store, table, config.REPLICAS)) : new QuotaPolicy(table);
    quota = policy;
    const path = table.path;
    pollers.push(
      pollFile(quotaFile, config.AUTH_RELOAD_MS, (text, initial) => {
        const q = quotasOfFileText(text, quotaFile);
        policy.replace(q);
        relabel();
        log.info({ file: quotaFile, tenants: [...q.keys()], table: path }, initial ? 'tenant quotas loaded' : 'tenant quotas reloaded');
      }, (err) => log.error({ file: quotaFile, err: err.message }, 'quota file unreadable or invalid: the previous quotas stay in force')),
    );
  }
  // The tenants of those files label /metrics: say so when anyone who reaches the port may read them.
  if ((keyring || quota) && config.METRICS_TOKEN === '' && !isLoopback(config.HOST)) {
    log.warn(
      { host: config.HOST, port: config.PORT },
      'GET /metrics is open and its series name the tenants of the keys and quota files: set METRICS_TOKEN (README "Health and metrics")',
    );
  }
  return {
    keyring,
    quota,
    close() {
      for (const p of pollers) p.stop();
      table?.close();
    },
  };
}
