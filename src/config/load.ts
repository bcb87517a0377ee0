/**
 * Reads the environment once, coerces strings to the schema's types, fails fast with a
 * message naming every bad variable, and freezes the result.
 */
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, type Config } from './schema.js';
import { maskUrlCredentials } from './redact.js';
import { supportedCompression } from '../producer/features.js';
import { securityProblems } from '../producer/security.js';
import { topicRoutes } from '../pipeline/routes.js';
import { corsProblems } from '../acceptor/cors.js';
import { InternalError } from '../errors.js';

export class ConfigError extends InternalError {
  override name = 'ConfigError';
  constructor(message: string) {
    super('COLLECTOR_ERR_CONFIG', message);
  }
}

// librdkafka property names (KAFKA_CONFIG_JSON) whose values are secrets.
const SECRET = /pass|secret|key|token|sasl\.|ssl\.key/i;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, codecs: readonly string[] = supportedCompression()): Readonly<Config> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  // PM2 names the instance; our own variable wins when both are set.
  if (raw.INSTANCE_ID === undefined && env.NODE_APP_INSTANCE !== undefined) raw.INSTANCE_ID = env.NODE_APP_INSTANCE;
  // Synthetic writes are a development tool: production has them only when it asks.
  if (raw.TEST_ENDPOINTS_ENABLED === undefined && env.NODE_ENV === 'production') raw.TEST_ENDPOINTS_ENABLED = false;

  const withDefaults = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, raw));
  const problems = [...Value.Errors(ConfigSchema, withDefaults)].map(
    (e) => `${e.path.slice(1) || '(root)'}=${JSON.stringify(raw[e.path.slice(1)])}: ${e.message}`,
  );
  const config = withDefaults as Config;
  if (problems.length === 0) {
    const weakAcks = config.KAFKA_ACKS !== 'all' && config.KAFKA_ACKS !== '-1';
    if (config.KAFKA_IDEMPOTENT && weakAcks) {
      problems.push(`KAFKA_ACKS=${config.KAFKA_ACKS}: the idempotent producer needs acks=all (or set KAFKA_IDEMPOTENT=false)`);
    }
    // A 2xx is a promise that the event survives a broker's death; acks=1/0 cannot keep it.
    if (weakAcks && !config.ALLOW_WEAK_ACKS) {
      problems.push(
        `KAFKA_ACKS=${config.KAFKA_ACKS}: acknowledged events could be lost with the leader broker; set ALLOW_WEAK_ACKS=true to accept that`,
      );
    }
    if (!codecs.includes(config.KAFKA_COMPRESSION_TYPE)) {
      // Refused here, not at the first produce: librdkafka would fail every record, and every batch would spill.
      problems.push(`KAFKA_COMPRESSION_TYPE=${config.KAFKA_COMPRESSION_TYPE}: this librdkafka build cannot write it (it can: ${codecs.join(', ')}); ` +
        'for zstd install libzstd-dev before `npm ci` (or run `npm rebuild node-rdkafka` after installing it)');
    }
    problems.push(...securityProblems(config));
    try {
      topicRoutes(config);
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (config.AUTH_MODE === 'api_key' && config.API_KEYS_FILE === '') {
      problems.push('AUTH_MODE=api_key: API_KEYS_FILE must name the keys file (create it with `npm run keys -- add`)');
    }
    problems.push(...corsProblems(config));
    try {
      const extra: unknown = JSON.parse(config.KAFKA_CONFIG_JSON);
      if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) throw new Error('not an object');
    } catch (err) {
      problems.push(`KAFKA_CONFIG_JSON: must be a JSON object (${(err as Error).message})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(maskUrlCredentials(`invalid configuration:\n  ${problems.join('\n  ')}`));
  return Object.freeze(config);
}

/** The effective configuration with secrets masked, for the start-up log: named secrets and every URL's user-info. */
export function describeConfig(config: Readonly<Config>): Record<string, unknown> {
  const shown = (v: unknown) => (typeof v === 'string' ? maskUrlCredentials(v) : v);
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, shown(v)]));
  if (config.METRICS_TOKEN) out.METRICS_TOKEN = '***';
  const extra = JSON.parse(config.KAFKA_CONFIG_JSON) as Record<string, unknown>;
  out.KAFKA_CONFIG_JSON = Object.fromEntries(
    Object.entries(extra).map(([k, v]) => [k, SECRET.test(k) ? '***' : shown(v)]),
  );
  return out;
}
