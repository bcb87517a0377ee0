/**
 * One replay leader per host (#14): the lock passes to a survivor when the holder dies,
 * SIGKILL included, and the survivor knows it took over after a crash.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ReplayLeadership } from '../../src/replay/index.js';
import { tmpDir } from '../spill/helpers.js';

const lockJs = fileURLToPath(new URL('../../src/replay/replay-lock.js', import.meta.url));

/** A real process that takes the lead and waits to be killed. */
async function leaderProcess(baseDir: string) {
  const script = `
    import { ReplayLeadership } from ${JSON.stringify(lockJs)};
    const l = new ReplayLeadership(${JSON.stringify(baseDir)});
    process.stdout.write(l.tryAcquire() ? 'lead\\n' : 'follow\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const said = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, said, exited };
}

t.test('a leader SIGKILLed: the next process to ask leads, and knows the last one crashed', async (t) => {
  const base = tmpDir('lead-kill');
  const first = await leaderProcess(base);
  t.equal(first.said, 'lead');
  const me = new ReplayLeadership(base);
  t.equal(me.tryAcquire(), null, 'a live leader keeps the lead');
  t.equal(me.held, false);
  first.child.kill('SIGKILL');
  await first.exited;
  t.same(me.tryAcquire(), { afterCrash: true }, 'taken over after a crash');
  t.equal(me.held, true);
  const second = await leaderProcess(base);
  t.equal(second.said, 'follow', 'while this process leads, another does not');
  second.child.kill('SIGKILL');
  await second.exited;
  me.release();
});

t.test('a leader that stops cleanly hands over with no crash to account for', async (t) => {
  const base = tmpDir('lead-clean');
  const a = new ReplayLeadership(base);
  t.same(a.tryAcquire(), { afterCrash: false }, 'nobody led before');
  a.release();
  t.equal(a.held, false);
  const b = await leaderProcess(base);
  t.equal(b.said, 'lead', 'a released lock is free for the next');
  b.child.kill('SIGKILL');
  await b.exited;
});

t.test('the test seam for a crash inside one process behaves like a dead holder', async (t) => {
  const base = tmpDir('lead-seam');
  const a = new ReplayLeadership(base);
  a.tryAcquire();
  const b = new ReplayLeadership(base);
  t.equal(b.tryAcquire(), null, 'same process, live holder');
  a._abandon();
  t.same(b.tryAcquire(), { afterCrash: true });
  b.release();
});
