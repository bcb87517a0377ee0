/**
 * `npm run dlq -- <command> [filters]`: look at and recover the dead-letter topic.
 *
 *   stats   [filters] [--json]                  counts by reason, error code, tenant, type, schema version
 *   show    [filters] [--limit n]               the records (errors, original, headers), one JSON per line
 *   replay  [filters] [--dry-run] [--chunk n]   judge again with the schemas in force; write what passes
 *
 * filters: --since / --until (RFC 3339 or 30m, 2h, 7d back from now), --reason, --code, --tenant,
 * --type, --version (each repeatable or comma-separated). Kafka, topics, schemas and limits come
 * from the collector's own environment (KAFKA_BOOTSTRAP_SERVERS, DLQ_TOPIC, KAFKA_TOPIC,
 * SCHEMA_DIR or SCHEMA_REGISTRY_URL, …), so the tool judges exactly as the collector would.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, ConfigError } from '../config/load.js';
import { decodeLimits } from '../codec/inline.js';
import { producerSettings } from '../producer/settings.js';
import { PayloadSchemas } from '../schema/payload/service.js';
import { registrySourceFrom } from '../schema/payload/registry.js';
import { FilterError, matches, parseFilter } from './filter.js';
import { TopicReader } from './reader.js';
import { parseDeadLetter } from './record.js';
import { replayDeadLetters, type ReplaySummary } from './replay.js';
import { StatsCounter, formatStats } from './stats.js';

const USAGE = `usage: npm run dlq -- stats  [filters] [--json]
       npm run dlq -- show   [filters] [--limit n]
       npm run dlq -- replay [filters] [--dry-run] [--chunk n] [--json]
filters: --since <time> --until <time> --reason <r> --code <c> --tenant <t> --type <t> --version <v|none>
         (times: RFC 3339, or 30m, 2h, 7d back from now; lists: repeat the flag or separate with commas)
other:   --topic <dlq topic> (default $DLQ_TOPIC)  --events-topic <topic> (default $KAFKA_TOPIC)
         --marker-topic <topic> (default <dlq topic>-replayed)
poison_pill and tenant_forbidden dead letters are replayed only when named with --reason.
`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      reason: { type: 'string', multiple: true },
      code: { type: 'string', multiple: true },
      tenant: { type: 'string', multiple: true },
      type: { type: 'string', multiple: true },
      version: { type: 'string', multiple: true },
      limit: { type: 'string' },
      chunk: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      topic: { type: 'string' },
      'events-topic': { type: 'string' },
      'marker-topic': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command] = positionals;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command !== 'stats' && command !== 'show' && command !== 'replay') throw new UsageError(command ? `unknown command ${command}` : 'a command is needed');
  const count = (flag: string, v: string | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} ${v}: a whole number of at least 1`);
    return n;
  };

  const config = loadConfig();
  const filter = parseFilter(values);
  const dlqTopic = values.topic ?? config.DLQ_TOPIC;
  const { global, topic } = producerSettings(config);
  // What a consumer shares with the producer: where Kafka is and how to reach it (security settings).
  const consumerExtra = Object.fromEntries(Object.entries(global).filter(([k]) => /^(security\.|ssl\.|sasl\.|client\.id$)/.test(k)));

  if (command === 'stats' || command === 'show') {
    const limit = count('limit', values.limit, 20);
    const stats = new StatsCounter();
    let shown = 0;
    const reader = await TopicReader.open({ bootstrap: config.KAFKA_BOOTSTRAP_SERVERS, topic: dlqTopic, extra: consumerExtra, since: filter.since });
    try {
      outer: for await (const batch of reader.batches()) {
        for (const m of batch) {
          const r = parseDeadLetter(m);
          if (!matches(filter, r)) continue;
          if (command === 'stats') stats.add(r);
          else {
            process.stdout.write(`${JSON.stringify({ at: `${r.topic}:${r.partition}:${r.offset}`, time: new Date(r.timestamp).toISOString(), reason: r.reason, errors: r.errors, tenant_id: r.tenantId, event_id: r.eventId, headers: r.headers, original_event: r.original ?? null, original_truncated: r.truncated })}\n`);
            if (++shown >= limit) break outer;
          }
        }
      }
    } finally {
      await reader.close();
    }
    if (command === 'stats') process.stdout.write(values.json ? `${JSON.stringify(stats.result())}\n` : `${formatStats(stats.result())}\n`);
    return 0;
  }

  const log = pino({ level: 'warn' }, pino.destination(2));
  const registry = registrySourceFrom(config);
  const schemas = new PayloadSchemas({ dir: config.SCHEMA_DIR, compatibility: config.SCHEMA_COMPATIBILITY, ...(registry ? { source: registry } : {}), reloadMs: 60_000, log });
  await schemas.load();

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(130); // a second Ctrl-C: now (the open transaction is aborted by the next run)
    process.stderr.write('\nreplay: stopping after the chunk being written (Ctrl-C again to stop at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let last = 0;
  const progress = (s: ReplaySummary, force = false) => {
    if (!force && Date.now() - last < 1000) return;
    last = Date.now();
    const failing = Object.values(s.stillFailing).reduce((a, b) => a + b, 0);
    process.stderr.write(`replay: read ${s.read}, matched ${s.matched}, ${values['dry-run'] ? 'would replay' : 'replayed'} ${s.replayed}, still failing ${failing}, already replayed ${s.alreadyReplayed}\n`);
  };
  const summary = await replayDeadLetters({
    bootstrap: config.KAFKA_BOOTSTRAP_SERVERS,
    dlqTopic,
    eventsTopic: values['events-topic'] ?? config.KAFKA_TOPIC,
    markerTopic: values['marker-topic'] ?? `${dlqTopic}-replayed`,
    producerGlobal: global as Record<string, unknown>,
    producerTopic: topic as Record<string, unknown>,
    consumerExtra,
    filter,
    limits: decodeLimits(config),
    payload: config.SCHEMA_DIR === 'off' && !registry ? undefined : schemas.current,
    dryRun: values['dry-run'] === true,
    chunk: count('chunk', values.chunk, 500),
    onProgress: (s) => progress(s),
    signal: abort.signal,
  });
  progress(summary, true);
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const lines = [`${values['dry-run'] ? 'would replay' : 'replayed'}: ${summary.replayed} in ${summary.seconds.toFixed(1)} s`, `already replayed (skipped): ${summary.alreadyReplayed}`];
    for (const [code, n] of Object.entries(summary.stillFailing)) lines.push(`still failing, ${code}: ${n}`);
    for (const [reason, n] of Object.entries(summary.skipped)) lines.push(`not replayed, ${reason} (name it with --reason to replay): ${n}`);
    if (summary.interrupted) lines.push('interrupted: run the same command again to go on');
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return summary.interrupted ? 130 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError || err instanceof FilterError || err instanceof ConfigError) {
      process.stderr.write(`dlq: ${err.message}\n${err instanceof UsageError ? USAGE : ''}`);
      process.exit(2);
    }
    process.stderr.write(`dlq: ${err.message}\n`);
    process.exit(1);
  },
);
