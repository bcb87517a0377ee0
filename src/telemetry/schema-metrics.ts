/**
 * Prometheus series of the payload schemas: events judged per event type, schema version
 * and outcome, and reloads by result. Labels stay bounded: event_type is one of five
 * (the envelope is checked first), schema_version is a loaded version, `none` (type
 * without schemas) or `unknown` (an unregistered version, whatever number was sent).
 */
import client from 'prom-client';
import type { RefusedAnswer } from '../schema/payload/registry.js';

export class SchemaMetrics {
  private readonly events: client.Counter<'event_type' | 'schema_version' | 'outcome'>;
  private readonly reloads: client.Counter<'result'>;
  private readonly generation: client.Gauge;
  private readonly refusedAnswers: client.Counter<'reason'>;

  constructor(registry: client.Registry) {
    this.events = new client.Counter({
      name: 'collector_schema_events_total',
      help: 'Events judged by payload schema, by event_type, schema_version (none: no schema for the type; unknown: unregistered version) and outcome (valid, invalid)',
      labelNames: ['event_type', 'schema_version', 'outcome'],
      registers: [registry],
    });
    this.reloads = new client.Counter({
      name: 'collector_schema_reloads_total',
      help: 'Payload schema reloads by result: applied, refused (a version broke a rule or did not compile; the previous set stays), failed',
      labelNames: ['result'],
      registers: [registry],
    });
    this.generation = new client.Gauge({
      name: 'collector_schema_generation',
      help: 'Generation of the payload schema set in force in this process (1 at boot, +1 per applied reload)',
      registers: [registry],
    });
    this.refusedAnswers = new client.Counter({
      name: 'collector_schema_registry_refused_answers_total',
      help: 'Schema registry answers refused as absurd, by reason: too_many_versions (a latest version above SCHEMA_REGISTRY_MAX_VERSIONS), malformed (not a schema version); the set in force stays',
      labelNames: ['reason'],
      registers: [registry],
    });
    for (const result of ['applied', 'refused', 'failed']) this.reloads.inc({ result }, 0);
    for (const reason of ['too_many_versions', 'malformed'] satisfies RefusedAnswer[]) this.refusedAnswers.inc({ reason }, 0);
  }

  registryAnswerRefused(reason: RefusedAnswer): void {
    this.refusedAnswers.inc({ reason });
  }

  /** `use` as DecodedBatch.schemaUse: "event_type|version|outcome" → count. */
  judged(use: Record<string, number>): void {
    for (const k in use) {
      const [event_type, schema_version, outcome] = k.split('|') as [string, string, string];
      this.events.inc({ event_type, schema_version, outcome }, use[k]);
    }
  }

  reloaded(result: 'applied' | 'refused' | 'failed', generation: number): void {
    this.reloads.inc({ result });
    this.generation.set(generation);
  }

  loaded(generation: number): void {
    this.generation.set(generation);
  }
}
