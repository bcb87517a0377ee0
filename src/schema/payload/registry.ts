/**
 * The Schema Registry source of payload schemas (SCHEMA_REGISTRY_URL): the Confluent REST API
 * that Confluent Schema Registry, Apicurio Registry (/apis/ccompat/v7) and Karapace all speak,
 * through the REST client of @kafkajs/confluent-schema-registry 3.9 (mappersmith, with its retries; 4.x declares
 * Node >= 22, this project runs on Node 20).
 *
 * Subjects: one per event type, named by SCHEMA_REGISTRY_SUBJECT, default `{topic}-{event_type}`
 * (Confluent's TopicNameStrategy with the event type appended, so the five types of one topic
 * have five subjects). A subject that does not exist leaves its type without a payload schema.
 * Versions are the registry's version numbers; each carries the registry's schema id, which
 * becomes the record's `schema_id` header. Only schemaType JSON is accepted.
 *
 * Caching: a (subject, version) is immutable in a registry, so it is fetched once per process.
 * What expires (every SCHEMA_REGISTRY_REFRESH_MS) is the knowledge of each subject's latest
 * version and compatibility rule: a refresh asks two small questions per type and fetches only
 * versions it has not seen. The compatibility rule is what GET /config/{subject} answers (the
 * subject's own level; Apicurio answers its global level for a subject without one), else, on a
 * 404 (Confluent, no level of its own), SCHEMA_COMPATIBILITY. Every version is judged by
 * judge.ts as the folder's are.
 *
 * Bounds: a registry's answers are not trusted to be sane. Versions 1 to the latest are each
 * fetched once, so the latest version number is the work and the cache a subject costs: above
 * SCHEMA_REGISTRY_MAX_VERSIONS the subject is refused, as is an answer that is not a schema
 * version (a version that is no positive integer, an id that is no non-negative integer, a
 * schema that is no string, another version than the one asked for). A refusal is a problem
 * like a version that does not compile — logged, the set in force stays — and is reported
 * through onRefusedAnswer (collector_schema_registry_refused_answers_total).
 */
import { createRequire } from 'node:module';
import type { SchemaRegistryAPIClient, SchemaRegistryAPIClientArgs } from '@kafkajs/confluent-schema-registry/dist/api/index.js';
import { maskUrlCredentials } from '../../config/redact.js';
import { EVENT_TYPES } from '../event.js';
import { judgeSchema } from './judge.js';
import type { SchemaSource, SourceLoad } from './source.js';
import { isCompatibilityMode, type CompatibilityMode, type SchemaProblem, type TypeSchemas } from './types.js';

// CommonJS with `exports.default`: required, its types come from the import type above.
const require = createRequire(import.meta.url);
const createApi = (require('@kafkajs/confluent-schema-registry/dist/api/index.js') as { default: (a: SchemaRegistryAPIClientArgs) => SchemaRegistryAPIClient }).default;
type Middleware = NonNullable<SchemaRegistryAPIClientArgs['middlewares']>[number];
const { TimeoutMiddleware } = require('mappersmith/middleware/timeout') as { TimeoutMiddleware: (ms: number) => Middleware };

export const DEFAULT_SUBJECT_TEMPLATE = '{topic}-{event_type}';

export interface RegistrySourceOptions {
  /** base URL of the Confluent-compatible API; user:password in it become basic auth */
  url: string;
  /** `{topic}` and `{event_type}` are replaced */
  subject: string;
  topic: string;
  /** the rule of a subject that sets none of its own */
  compatibility: CompatibilityMode;
  /** per request; the client retries 5xx and network errors up to twice within it */
  timeoutMs: number;
  /** the highest latest version read from a subject (SCHEMA_REGISTRY_MAX_VERSIONS) */
  maxVersions: number;
  /** an answer refused as absurd (metrics) */
  onRefusedAnswer?: (reason: RefusedAnswer) => void;
}

/** Why an answer of the registry was refused: a bounded label. */
export type RefusedAnswer = 'too_many_versions' | 'malformed';

export function subjectName(template: string, topic: string, eventType: string): string {
  return template.replaceAll('{topic}', topic).replaceAll('{event_type}', eventType);
}

/** The URL without credentials (what logs and GET /api/v1/schemas show), and the credentials. */
export function splitRegistryUrl(raw: string): { location: string; auth?: { username: string; password: string } } {
  const u = new URL(raw);
  const auth = u.username !== '' ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
  u.username = '';
  u.password = '';
  const location = u.toString().replace(/\/$/, '');
  return auth ? { location, auth } : { location };
}

interface RegistryVersion {
  subject: string;
  version: number;
  id: number;
  schema: string;
  schemaType?: string;
  references?: unknown[];
}

/** Why `v` is not a schema version the collector can take, or null. */
function malformed(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `not a schema version: ${JSON.stringify(v).slice(0, 80)}`;
  const { version, id, schema } = v as Record<string, unknown>;
  if (!Number.isSafeInteger(version) || (version as number) < 1) return `version ${JSON.stringify(version)} is not a positive integer`;
  if (!Number.isSafeInteger(id) || (id as number) < 0) return `id ${JSON.stringify(id)} is not a non-negative integer`;
  if (typeof schema !== 'string') return 'schema is not a string';
  return null;
}

interface ResponseErrorLike {
  status?: number;
}

function notFound(err: unknown): boolean {
  return (err as ResponseErrorLike)?.status === 404;
}

export class RegistrySource implements SchemaSource {
  readonly kind = 'registry' as const;
  readonly location: string;
  private readonly api: SchemaRegistryAPIClient;
  /** `${subject}\n${version}` → what the registry holds, or null when that version was deleted */
  private readonly cache = new Map<string, RegistryVersion | null>();

  constructor(private readonly o: RegistrySourceOptions) {
    const { location, auth } = splitRegistryUrl(o.url);
    this.location = location;
    this.api = createApi({
      host: location,
      clientId: 'event-collector',
      ...(auth ? { auth } : {}),
      retry: { retries: 2, maxRetryTimeInSecs: Math.max(1, o.timeoutMs / 1000) },
      middlewares: [TimeoutMiddleware(o.timeoutMs)],
    });
  }

  fingerprint(): null {
    return null;
  }

  async load(): Promise<SourceLoad> {
    const problems: SchemaProblem[] = [];
    const loaded = await Promise.all(EVENT_TYPES.map((t) => this.loadType(t, problems)));
    return { types: loaded.filter((t): t is TypeSchemas => t !== null), problems };
  }

  private async loadType(eventType: string, problems: SchemaProblem[]): Promise<TypeSchemas | null> {
    const subject = subjectName(this.o.subject, this.o.topic, eventType);
    let latest: RegistryVersion;
    try {
      latest = await this.data<RegistryVersion>(this.api.Subject.latestVersion({ subject }));
    } catch (err) {
      if (notFound(err)) return null; // no subject: the type keeps today's behaviour (any object)
      throw err;
    }
    const bad = malformed(latest);
    if (bad !== null) return this.refuse('malformed', problems, eventType, null, `${subject}: the registry's latest version was refused: ${bad}`);
    if (latest.version > this.o.maxVersions) {
      return this.refuse('too_many_versions', problems, eventType, null,
        `${subject}: the registry answered latest version ${latest.version}; at most SCHEMA_REGISTRY_MAX_VERSIONS (${this.o.maxVersions}) versions of a subject are read`);
    }
    this.cache.set(key(subject, latest.version), latest);
    const compatibility = await this.compatibilityOf(subject, eventType, problems);
    if (compatibility === null) return null;

    const versions: TypeSchemas['versions'] = [];
    let refusedAt: number | null = null;
    for (let n = 1; n <= latest.version; n++) {
      const v = await this.version(subject, n);
      if (v === null) continue; // deleted in the registry
      if (refusedAt !== null) {
        problems.push({ eventType, version: n, message: `${eventType} v${n} (${subject}) refused: it follows v${refusedAt}, which was refused` });
        continue;
      }
      const bad = malformed(v) ?? (v.version === n ? null : `asked for version ${n}, the registry answered version ${v.version}`);
      if (bad !== null) {
        this.refuse('malformed', problems, eventType, n, `${eventType} v${n} (${subject}) refused: ${bad}`);
        refusedAt = n;
        continue;
      }
      const why = this.judge(v, compatibility, versions);
      if (typeof why === 'string') {
        problems.push({ eventType, version: n, message: `${eventType} v${n} (${subject}, id ${v.id}) refused: ${why}` });
        refusedAt = n;
        continue;
      }
      versions.push({ version: n, id: v.id, schema: why });
    }
    if (versions.length === 0) return null;
    // The registry has no "default version" of its own: the latest loaded is the default.
    return { eventType, compatibility, defaultVersion: versions[versions.length - 1]!.version, pinned: false, versions };
  }

  private refuse(reason: RefusedAnswer, problems: SchemaProblem[], eventType: string, version: number | null, message: string): null {
    this.o.onRefusedAnswer?.(reason);
    problems.push({ eventType, version, message });
    return null;
  }

  private judge(v: RegistryVersion, mode: CompatibilityMode, earlier: TypeSchemas['versions']) {
    const type = v.schemaType ?? 'AVRO'; // the Confluent API omits schemaType for Avro
    if (type !== 'JSON') return `schemaType ${type}: event_data schemas are JSON Schemas (schemaType JSON)`;
    if (v.references !== undefined && v.references.length > 0) return 'schema references are not supported: register the schema self-contained';
    let schema: unknown;
    try {
      schema = JSON.parse(v.schema);
    } catch (err) {
      return `not JSON: ${(err as Error).message}`;
    }
    return judgeSchema(schema, mode, earlier);
  }

  private async version(subject: string, version: number): Promise<RegistryVersion | null> {
    const k = key(subject, version);
    const hit = this.cache.get(k);
    if (hit !== undefined) return hit;
    let v: RegistryVersion | null;
    try {
      v = await this.data<RegistryVersion>(this.api.Subject.version({ subject, version }));
    } catch (err) {
      if (!notFound(err)) throw err;
      v = null;
    }
    // A malformed answer is refused, not remembered: a registry that is fixed is read again.
    if (v === null || malformed(v) === null) this.cache.set(k, v);
    return v;
  }

  /** The registry's rule for the subject, else SCHEMA_COMPATIBILITY; null (and a problem) when it is not one we know. */
  private async compatibilityOf(subject: string, eventType: string, problems: SchemaProblem[]): Promise<CompatibilityMode | null> {
    let level: unknown;
    try {
      const c = await this.data<{ compatibilityLevel?: unknown; compatibility?: unknown }>(this.api.Subject.config({ subject }));
      level = c.compatibilityLevel ?? c.compatibility;
    } catch (err) {
      if (notFound(err)) return this.o.compatibility; // no subject-level rule
      throw err;
    }
    if (level === undefined) return this.o.compatibility;
    if (!isCompatibilityMode(level)) {
      problems.push({ eventType, version: null, message: `${subject}: compatibility ${JSON.stringify(level)} is not one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE` });
      return null;
    }
    return level;
  }

  private async data<T>(pending: Promise<{ data(): unknown }>): Promise<T> {
    return (await pending).data() as T;
  }
}

function key(subject: string, version: number): string {
  return `${subject}\n${version}`;
}

/** The registry source SCHEMA_REGISTRY_URL asks for, or null (the folder). */
export function registrySourceFrom(config: {
  SCHEMA_REGISTRY_URL: string;
  SCHEMA_REGISTRY_SUBJECT: string;
  SCHEMA_REGISTRY_TIMEOUT_MS: number;
  SCHEMA_REGISTRY_MAX_VERSIONS: number;
  SCHEMA_COMPATIBILITY: CompatibilityMode;
  KAFKA_TOPIC: string;
}, onRefusedAnswer?: (reason: RefusedAnswer) => void): RegistrySource | null {
  if (config.SCHEMA_REGISTRY_URL === '') return null;
  // `registry:8081` parses as a URL of scheme `registry:`: only http(s) is one the client can call.
  if (!URL.canParse(config.SCHEMA_REGISTRY_URL) || !/^https?:$/.test(new URL(config.SCHEMA_REGISTRY_URL).protocol)) {
    throw new Error(`SCHEMA_REGISTRY_URL is not an http(s) URL: ${JSON.stringify(maskUrlCredentials(config.SCHEMA_REGISTRY_URL))}`);
  }
  return new RegistrySource({
    url: config.SCHEMA_REGISTRY_URL,
    subject: config.SCHEMA_REGISTRY_SUBJECT,
    topic: config.KAFKA_TOPIC,
    compatibility: config.SCHEMA_COMPATIBILITY,
    timeoutMs: config.SCHEMA_REGISTRY_TIMEOUT_MS,
    maxVersions: config.SCHEMA_REGISTRY_MAX_VERSIONS,
    ...(onRefusedAnswer ? { onRefusedAnswer } : {}),
  });
}
