/**
 * The payload schema set of one process: loads it from SCHEMA_DIR at boot, reloads it
 * without a restart (the folder is polled every SCHEMA_RELOAD_MS, and SIGHUP reloads at
 * once), and publishes it to the main thread's validators and to the decode workers
 * (src/schema/payload/channel.ts). Every PM2 process runs its own, so each picks up a
 * change by itself. A reload that finds any problem leaves the previous set in force and
 * says so: log, the collector_schema_reloads_total{result="refused"} counter, and the
 * health report.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { PayloadValidators } from '../../codec/payload.js';
import { SchemaChannel } from './channel.js';
import { folderFingerprint, loadFolder } from './folder.js';
import { EMPTY_SNAPSHOT, type CompatibilityMode, type SchemaProblem, type SchemaSetSnapshot } from './types.js';

export interface PayloadSchemasOptions {
  /** `off` or empty: no payload schemas (every event_data is any object) */
  dir: string;
  compatibility: CompatibilityMode;
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
  private fingerprint = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly onHup = () => this.reload('SIGHUP', true);

  constructor(private readonly o: PayloadSchemasOptions) {}

  get dir(): string {
    return this.o.dir === '' || this.o.dir === 'off' ? '' : resolve(this.o.dir);
  }

  /** The validators the main thread judges with; replaced, never mutated, on reload. */
  get current(): PayloadValidators {
    return this.validators;
  }

  get snapshot(): SchemaSetSnapshot {
    return this.snap;
  }

  /** Boot: whatever loads is in force (a refused version is reported, its earlier versions serve). */
  load(): void {
    if (this.dir === '') {
      this.apply({ ...EMPTY_SNAPSHOT, generation: 1, loadedAt: new Date().toISOString() });
      return;
    }
    this.fingerprint = folderFingerprint(this.dir);
    const loadedAt = new Date().toISOString();
    let { types, problems } = { types: [] as SchemaSetSnapshot['types'], problems: [] as SchemaProblem[] };
    try {
      ({ types, problems } = loadFolder(this.dir, this.o.compatibility));
      this.apply({ generation: 1, source: 'folder', location: this.dir, loadedAt, types });
    } catch (err) {
      // A folder changing under the scan, or a set too large for the channel: serve with none, say so, retry on change.
      problems = [...problems, { eventType: '*', version: null, message: `loading ${this.dir} failed: ${(err as Error).message}` }];
      this.apply({ generation: 1, source: 'folder', location: this.dir, loadedAt, types: [] });
    }
    this.problems = problems;
    if (problems.length) this.o.log.error({ dir: this.dir, problems }, 'payload schemas: some versions were refused; the rest are in force');
    this.o.log.info({ dir: this.dir, types: this.summary() }, 'payload schemas loaded');
  }

  start(): void {
    if (this.dir === '') return;
    this.timer = setInterval(() => this.reload('poll', false), this.o.reloadMs).unref();
    process.on('SIGHUP', this.onHup);
  }

  stop(): void {
    clearInterval(this.timer);
    process.off('SIGHUP', this.onHup);
  }

  /** Loads the folder again when it changed (or when forced); all or nothing. */
  reload(reason: string, force: boolean): SchemaStatus['last_reload'] {
    if (this.dir === '') return null;
    const fp = folderFingerprint(this.dir);
    if (!force && fp === this.fingerprint) return this.lastReload;
    this.fingerprint = fp;
    const at = new Date().toISOString();
    try {
      const { types, problems } = loadFolder(this.dir, this.o.compatibility);
      if (problems.length > 0) {
        this.problems = problems;
        this.lastReload = { at, result: 'refused' };
        this.o.onReload?.('refused');
        this.o.log.error({ dir: this.dir, reason, problems }, 'payload schemas: reload refused; the previous set stays in force');
        return this.lastReload;
      }
      const unchanged = JSON.stringify(types) === JSON.stringify(this.snap.types);
      this.problems = [];
      if (unchanged) {
        this.lastReload = { at, result: 'unchanged' };
        return this.lastReload;
      }
      this.apply({ generation: this.snap.generation + 1, source: 'folder', location: this.dir, loadedAt: at, types });
      this.lastReload = { at, result: 'applied' };
      this.o.onReload?.('applied');
      this.o.log.info({ dir: this.dir, reason, generation: this.snap.generation, types: this.summary() }, 'payload schemas reloaded');
    } catch (err) {
      this.problems = [{ eventType: '*', version: null, message: `reload failed: ${(err as Error).message}` }];
      this.lastReload = { at, result: 'failed' };
      this.o.onReload?.('failed');
      this.o.log.error({ err, dir: this.dir, reason }, 'payload schemas: reload failed; the previous set stays in force');
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
