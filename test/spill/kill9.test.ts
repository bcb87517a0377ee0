/**
 * Failure path 7: a real process, real fsync, SIGKILL at a random instant, several
 * times over the same directory. Every seq the child printed (printed only after
 * append() returned) must be readable afterwards, byte-exact.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { open, prng, readAll, tmpDir } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.join(here, 'fixtures', 'appender.js');

function payloadFor(seq: number): Buffer {
  const event = `{"seq":${seq},"verb":"completed","object":"course-${seq % 97}","score":${(seq * 7) % 100}}`;
  return Buffer.from(event.repeat(1 + (seq % 9)));
}

async function runAndKill(dir: string, seed: number, killAfterMs: number): Promise<number[]> {
  const p = spawn(process.execPath, [child, dir, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  // Wait until it has acknowledged its first records (a loaded box can take longer than the whole random while
  // to get there: CI saw a round with 0), then let it append for a random while before the kill.
  while (out.split('\n').length < 3) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, killAfterMs));
  p.kill('SIGKILL');
  await exited; // reaped: its pid is now dead, so its lock is stale
  const acked: number[] = [];
  for (const line of out.split('\n').slice(1, -1)) {
    const [a, b] = line.split(' ').map(Number);
    for (let s = a!; s <= b!; s++) acked.push(s);
  }
  return acked;
}

t.test('SIGKILL at random moments loses no acknowledged record', async (t) => {
  const dir = tmpDir('kill9');
  const rand = prng(Number(process.env.SPILL_SEED ?? 77));
  const acked: number[] = [];
  let ackedUpTo = 0;
  for (let round = 0; round < 6; round++) {
    const got = await runAndKill(dir, round + 1, 50 + Math.floor(rand() * 400));
    t.ok(got.length > 0, `round ${round}: child acknowledged ${got.length} records`);
    acked.push(...got);
    const log = open(dir, { fsync: true });
    const rec = readAll(log, 64);
    const have = new Map(rec.map((r) => [r.seq, r]));
    const missing = acked.filter((s) => s > ackedUpTo && !have.has(s));
    t.same(missing, [], `round ${round}: every printed seq is present`);
    const wrong = rec.filter((r) => !r.payload.equals(payloadFor(r.seq)) || r.events !== r.seq % 5).map((r) => r.seq);
    t.same(wrong, [], 'every record byte-exact');
    t.same(log.recovery.quarantined, [], 'a crash is not corruption');
    t.same(log.recovery.lostRanges, []);
    // Deliver a random part, as the owner would, so later rounds cross acked segments.
    const last = rec[rec.length - 1];
    if (last && rand() < 0.6) {
      ackedUpTo = rec[Math.floor(rand() * rec.length)]!.seq;
      log.ack(ackedUpTo);
    }
    log.close();
  }
});
