/**
 * Opening this process's spill log at start: the owner thread recovers every log it holds before anything is
 * accepted, and what recovery found is said once, at the level it deserves (loss is an error; a torn tail past the
 * durable limit is the normal trace of a crash).
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { SpillClient } from './client.js';
import type { SpillHello } from './protocol.js';

export async function openSpill(config: Config, log: Logger, telemetry: Telemetry): Promise<{ spill: SpillClient; hello: SpillHello }> {
  const spill = new SpillClient(
    {
      baseDir: resolve(config.BUFFER_DIR),
      instance: config.INSTANCE_ID,
      maxBytes: config.MAX_BUFFER_SIZE_MB * 1024 * 1024,
      segmentBytes: config.SPILL_SEGMENT_MB * 1024 * 1024,
    },
    log,
  );
  // A spill worker that keeps dying: exit, so the supervisor starts a process whose recovery finds the log.
  spill.onFatal = () => process.exit(70);
  const hello = await spill.ready;
  for (const r of hello.recovery) {
    if (r.acknowledgedLost > 0) telemetry.spillRecordsLost(r.acknowledgedLost);
    if (r.quarantined.length || r.lostRanges.length) log.error({ recovery: r }, `SPILL LOG DAMAGE: ${r.acknowledgedLost} acknowledged record(s) lost, evidence quarantined; inspect the quarantine/ folder`);
    else if (r.truncatedBytes && r.truncatedAcknowledged === 'no') log.warn({ recovery: r }, 'spill log: torn tail truncated (a crash mid-append, past the durable limit: nothing acknowledged was lost)');
    else if (r.truncatedBytes) log.warn({ recovery: r }, 'spill log: a bad last frame truncated; no durable limit was recorded, so whether it had been acknowledged is not known');
  }
  log.info({ sources: hello.sources.map((s) => ({ source: s.source, dir: s.dir, records: s.records, events: s.events })) }, 'spill log open');
  if (hello.sources[0]!.dir !== config.INSTANCE_ID) {
    log.warn({ dir: hello.sources[0]!.dir }, 'own spill directory is held by a sibling that adopted it while this instance was down: spilling to a fresh one meanwhile');
  }
  return { spill, hello };
}
