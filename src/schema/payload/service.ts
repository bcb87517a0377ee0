/**
 * The payload schema set of one process: loads it from its source at boot — the folder
 * (SCHEMA_DIR) or a Confluent-compatible Schema Registry (SCHEMA_REGISTRY_URL) — reloads it
 * without a restart (polled every SCHEMA_RELOAD_MS for the folder, every
 * SCHEMA_REGISTRY_REFRESH_MS for the registry, when its cache expires; SIGHUP reloads at
 * once), and publishes it to the main thread's validators and to the decode workers
 * (src/schema/payload/channel.ts). Every PM2 process runs its own, so each picks up a
 * change by itself. A reload that finds any problem, or a source that cannot be read,
 * leaves the previous set in force and says so: log, the
 * collector_schema_reloads_total{result="refused"|"failed"} counter, and the health report.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { PayloadValidators } from '../../codec/payload.js';
import { maskUrlCredentials } from '../../config/redact.js';
import { SchemaChannel } from './channel.js';
import { FolderSource } from './folder.js';
import type { SchemaSource } from './source.js';
import { EMPTY_SNAPSHOT, type CompatibilityMode, type SchemaProblem, type SchemaSetSnapshot } from './types.js';

export interface PayloadSchemasOptions {
  /** `off` or empty: no payload schemas (every event_data is any object); ignored when `source` is given */
  dir: string;
  compatibility: CompatibilityMode;
  /** another source (the registry); default: the folder `dir` */
  source?: SchemaSource | null;
  reloadMs: number;
  log: Logger;
  onReload?: (result: 'applied' | 'refused' | 'failed') => void;
}

export interface SchemaStatus {
  status: 'ok' | 'degraded';
  source: SchemaSetSnapshot['source'];
  location: string;
  generation: number;
  loaded_at: string;
  /** why the last load or reload refused something; empty when all is in force */
  problems: SchemaProblem[];
  last_reload: { at: string; result: 'applied' | 'refused' | 'failed' | 'unchanged' } | null;
}

export class PayloadSchemas {
  readonly channel = new SchemaChannel();
  private snap: SchemaSetSnapshot = EMPTY_SNAPSHOT;
  private validators = new PayloadValidators(EMPTY_SNAPSHOT);
  private problems: SchemaProblem[] = [];
  private lastReload: SchemaStatus['last_reload'] = null;
  private fingerprint: string | null = '';
  private timer: NodeJS.Timeout | undefined;
  /** one load at a time: a poll that comes while one is running waits for it and reports its result */
  private running: Promise<SchemaStatus['last_reload']> | null = null;
  private readonly source: SchemaSource | null;
  private readonly onHup = () => void this.reload('SIGHUP', true);

  constructor(private readonly o: PayloadSchemasOptions) {
    if (o.source !== undefined) this.source = o.source;
    else this.source = o.dir === '' || o.dir === 'off' ? null : new FolderSource(resolve(o.dir), o.compatibility);
  }

  /** The folder, resolved; '' when the schemas come from elsewhere or are off. */
  get dir(): string {
    return this.source?.kind === 'folder' ? this.source.location : '';
  }

  /** The validators the main thread judges with; replaced, never mutated, on reload. */
  get current(): PayloadValidators {
    return this.validators;
  }

  get snapshot(): SchemaSetSnapshot {
    return this.snap;
  }

  /** Boot: whatever loads is in force (a refused version is reported, its earlier versions serve). */
  async load(): Promise<void> {
    const src = this.source;
    if (src === null) {
      this.apply({ ...EMPTY_SNAPSHOT, generation: 1, loadedAt: new Date().toISOString() });
      return;
    }
    this.fingerprint = src.fingerprint();
    const loadedAt = new Date().toISOString();
    let { types, problems } = { types: [] as SchemaSetSnapshot['types'], problems: [] as SchemaProblem[] };
    try {
      ({ types, problems } = await src.load());
      this.apply({ generation: 1, source: src.kind, location: src.location, loadedAt, types });
    } catch (err) {
      // A folder changing under the scan, a registry that cannot be reached, or a set too large for
      // the channel: serve with none, say so, and retry on every poll (the fingerprint is forgotten).
      problems = [...problems, { eventType: '*', version: null, message: `loading ${src.location} failed: ${maskUrlCredentials((err as Error).message)}` }];
      this.fingerprint = null;
      this.apply({ generation: 1, source: src.kind, location: src.location, loadedAt, types: [] });
    }
    this.problems = problems;
    if (problems.length) this.o.log.error({ source: src.kind, location: src.location, problems }, 'payload schemas: some versions were refused; the rest are in force');
    this.o.log.info({ source: src.kind, location: src.location, types: this.summary() }, 'payload schemas loaded');
  }

  start(): void {
    if (this.source === null) return;
    this.timer = setInterval(() => void this.reload('poll', false), this.o.reloadMs).unref();
    process.on('SIGHUP', this.onHup);
  }

  stop(): void {
    clearInterval(this.timer);
    process.off('SIGHUP', this.onHup);
  }

  /** Loads the source again when it may have changed (or when forced); all or nothing. */
  reload(reason: string, force: boolean): Promise<SchemaStatus['last_reload']> {
    if (this.source === null) return Promise.resolve(null);
    if (this.running !== null) return this.running;
    this.running = this.reloadOnce(this.source, reason, force).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async reloadOnce(src: SchemaSource, reason: string, force: boolean): Promise<SchemaStatus['last_reload']> {
    const fp = src.fingerprint();
    if (!force && fp !== null && fp === this.fingerprint) return this.lastReload;
    const at = new Date().toISOString();
    try {
      const { types, problems } = await src.load();
      this.fingerprint = fp;
      if (problems.length > 0) {
        // A registry is asked again at every refresh: the same refusal is counted and logged once.
        const same = JSON.stringify(problems) === JSON.stringify(this.problems) && this.lastReload?.result === 'refused';
        this.problems = problems;
        this.lastReload = { at, result: 'refused' };
        if (same) return this.lastReload;
        this.o.onReload?.('refused');
        this.o.log.error({ source: src.kind, location: src.location, reason, problems }, 'payload schemas: reload refused; the previous set stays in force');
        return this.lastReload;
      }
      const unchanged = JSON.stringify(types) === JSON.stringify(this.snap.types);
      this.problems = [];
      if (unchanged) {
        this.lastReload = { at, result: 'unchanged' };
        return this.lastReload;
      }
      this.apply({ generation: this.snap.generation + 1, source: src.kind, location: src.location, loadedAt: at, types });
      this.lastReload = { at, result: 'applied' };
      this.o.onReload?.('applied');
      this.o.log.info({ source: src.kind, location: src.location, reason, generation: this.snap.generation, types: this.summary() }, 'payload schemas reloaded');
    } catch (err) {
      // Not remembered as seen: the next poll tries again even if the folder did not change.
      this.fingerprint = null;
      this.problems = [{ eventType: '*', version: null, message: `reload failed: ${maskUrlCredentials((err as Error).message)}` }];
      this.lastReload = { at, result: 'failed' };
      this.o.onReload?.('failed');
      this.o.log.error({ err, source: src.kind, location: src.location, reason }, 'payload schemas: reload failed; the previous set stays in force');
    }
    return this.lastReload;
  }

  status(): SchemaStatus {
    return {
      status: this.problems.length > 0 ? 'degraded' : 'ok',
      source: this.snap.source,
      location: this.snap.location,
      generation: this.snap.generation,
      loaded_at: this.snap.loadedAt,
      problems: this.problems,
      last_reload: this.lastReload,
    };
  }

  private apply(next: SchemaSetSnapshot): void {
    // Compile first: if anything throws, nothing was replaced.
    const validators = new PayloadValidators(next);
    this.channel.publish(next);
    this.snap = next;
    this.validators = validators;
  }

  private summary(): Record<string, string> {
    return Object.fromEntries(this.snap.types.map((t) => [t.eventType, `v${t.versions.map((v) => v.version).join(',v')} default v${t.defaultVersion} ${t.compatibility}`]));
  }
}
