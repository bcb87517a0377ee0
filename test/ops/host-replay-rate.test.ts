/**
 * Retry-After on a full spill is computed from the host's replay rate: with one replay leader per host a
 * process's own rate is 0 while another drains its log, and a client must not be told 30 s then.
 */
import t from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterView, type ProcessReport } from '../../src/ops/cluster.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sibling(dir: string, instance: string, replay: number, writtenAt = Date.now()): void {
  const r = {
    version: 1, instance, host: 'h', pid: 1, written_at: writtenAt, started_at: 0,
    health: { buffer_status: { replay_events_per_second: replay } },
  } as unknown as ProcessReport;
  writeFileSync(join(dir, `${instance}.json`), JSON.stringify(r));
}

t.test('the host rate adds the live siblings\' replay, without waiting; stale and unreadable files count as none', async (t) => {
  const runDir = mkdtempSync(join(tmpdir(), 'host-replay-'));
  const dir = join(runDir, 'metrics');
  mkdirSync(dir, { recursive: true });
  const view = new ClusterView({
    runDir, instance: '0', telemetry: new Telemetry(),
    health: () => ({ status: 200, body: {} as never }), metrics: () => ({}) as never,
  });
  t.equal(view.hostReplayRate(), 0, 'nothing replays yet (and the first refresh starts)');
  await sleep(50);

  sibling(dir, '1', 4000);
  sibling(dir, '2', 1000, Date.now() - 60_000); // a dead process's last file
  writeFileSync(join(dir, '3.json'), '{"torn');
  t.equal(view.hostReplayRate(), 0, 'at most one refresh a second: the answer is the last refresh\'s');
  await sleep(1100);
  view.hostReplayRate(); // starts the refresh
  await sleep(100);
  t.equal(view.hostReplayRate(), 4000, 'the live sibling\'s rate; the stale and the torn file are left out');
});
