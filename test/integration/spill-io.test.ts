/**
 * Issue #17.4: one I/O error must not wedge the spill log until a restart.
 *   - a full filesystem (a small tmpfs as BUFFER_DIR): appends fail while it is full and
 *     succeed again, without a restart, once space is freed;
 *   - a record that rots on disk after it was stored: replay quarantines it, counts it, logs
 *     it, and delivers every other record (before: the replay loop ended on the error).
 * The tmpfs needs root (mount); without it the first test is skipped, saying why.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, openSync, readSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { LocalBroker } from '../../kafka/broker.js';
import { logTail, startCollector } from '../helpers/collector.js';
import { readTopic, eventIds } from '../helpers/consumer.js';
import { sleep, waitDrained } from '../helpers/load.js';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';
import { HEADER_BYTES as FRAME_HEADER_BYTES } from '../../src/spill/frame.js';

t.setTimeout(300_000);

async function send(url: string, acked: Map<string, number>, batch: number): Promise<{ status: number; code?: string }> {
  const events = Array.from({ length: 50 }, (_, i) => ({ ...syntheticEvent(i), event_id: randomUUID(), event_data: { pad: randomUUID().repeat(8) } }));
  const r = await fetch(`${url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
  const body = (await r.json()) as { error?: { code: string } };
  if (r.status === 200) events.forEach((e) => { acked.set(e.event_id, batch); });
  return { status: r.status, code: body.error?.code };
}

function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('a full filesystem: appends are refused while full and stored again once space is back, no restart', async (t) => {
  const base = mkdtempSync(join(os.tmpdir(), 'collector-enospc-'));
  const bufferDir = join(base, 'buffer');
  execFileSync('mkdir', ['-p', bufferDir]);
  if (!tryMount(bufferDir, '4m')) {
    t.plan(0, 'mounting a tmpfs needs root (mount -t tmpfs); not available here');
    return;
  }
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', bufferDir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(base, { recursive: true, force: true });
  });
  // Most of the filesystem taken by something else, as when another tenant fills the disk.
  const filler = join(bufferDir, 'filler');
  writeFileSync(filler, Buffer.alloc(3 * 1024 * 1024));
  const collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1', KAFKA_TOPIC: 'events-enospc', DLQ_TOPIC: 'events-enospc-dlq', BUFFER_DIR: bufferDir,
    MAX_BUFFER_SIZE_MB: '64', SPILL_SEGMENT_MB: '1', INSTANCE_ID: '0', DEDUP_PATH: join(base, 'dedup.table'), RUN_DIR: join(base, 'run'),
  });
  t.teardown(() => collector.stop());

  const acked = new Map<string, number>();
  let refused: { status: number; code?: string } | undefined;
  for (let i = 0; i < 400 && !refused; i++) {
    const r = await send(collector.url, acked, i);
    if (r.status !== 200) refused = r;
  }
  t.ok(refused, `the full filesystem refused a batch after ${acked.size} events were stored`);
  t.equal(refused?.code, 'COLLECTOR_ERR_SPILL_FAILED', 'refused as a failed spill (5xx), not acknowledged');

  rmSync(filler);
  let stored = false;
  const deadline = Date.now() + 60_000;
  let i = 1000;
  while (!stored && Date.now() < deadline) {
    stored = (await send(collector.url, acked, i++)).status === 200;
    if (!stored) await sleep(200);
  }
  t.ok(stored, 'once space is back, batches are stored again without a restart');
  for (let k = 0; k < 5; k++) t.equal((await send(collector.url, acked, i++)).status, 200, 'and keep being stored');
  const m = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as { buffer_events_count: number };
  t.equal(m.buffer_events_count, acked.size, `every acknowledged event (${acked.size}) is in the spill log`);
});

for (const where of ['payload', 'length'] as const) {
  t.test(`a record that rots on disk (its ${where}): replay quarantines it, counts it and delivers the rest`, async (t) => {
    const broker = await LocalBroker.start({ heapMb: 384 });
    t.teardown(() => broker.destroy());
    const topic = `events-rot-${randomUUID().slice(0, 8)}`;
    await broker.createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
    await broker.kill();
    const bufferDir = mkdtempSync(join(os.tmpdir(), 'collector-rot-'));
    const collector = await startCollector({
      KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, BUFFER_DIR: bufferDir, INSTANCE_ID: '0', CIRCUIT_PROBE_MS: '300',
    });
    t.teardown(async () => {
      if (!t.passing()) t.comment(`collector log:\n${logTail(collector.logs, 80)}`);
      await collector.stop();
    });
    const acked = new Map<string, number>();
    for (let i = 0; i < 20; i++) t.equal((await send(collector.url, acked, i)).status, 200, `batch ${i} stored while Kafka is down`);

    // Rot one byte of the 11th stored record: in its payload (it no longer matches its checksum), or in its
    // length, which the checksum does not cover (the frame then seems to run past the end of the file, as an
    // append in progress would).
    const segDir = join(bufferDir, '0');
    const seg = readdirSync(segDir).filter((f) => f.endsWith('.seg')).map((f) => join(segDir, f))[0]!;
    const frames = readFileSync(seg);
    let frame = 0;
    for (let r = 0; r < 10; r++) frame += FRAME_HEADER_BYTES + frames.readUInt32LE(frame + 4);
    const at = where === 'payload' ? frame + FRAME_HEADER_BYTES + 10 : frame + 5;
    const fd = openSync(seg, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);

    await broker.restart();
    await waitDrained(collector.url, 180_000);
    const records = await readTopic(broker.bootstrap, topic, (rs) => eventIds(rs).size >= acked.size - 50, 120_000);
    const found = eventIds(records);
    const missing = [...acked].filter(([id]) => !found.has(id));
    const batches = new Set(missing.map(([, batch]) => batch));
    t.ok(missing.length <= 50 && batches.size <= 1, `only the rotten record's batch is missing (${missing.length} events, batches ${[...batches]})`);
    const prom = await (await fetch(`${collector.url}/metrics`)).text();
    t.match(prom, /collector_spill_corrupt_records_total\{[^}]*\} 1\b/, 'the quarantined record is counted');
    t.match(collector.logs.join(''), /corrupt record was quarantined/, 'and logged');
    t.ok(readdirSync(join(segDir, 'quarantine')).length > 0, 'the damaged segment is kept in quarantine/ as evidence');
  });
}
