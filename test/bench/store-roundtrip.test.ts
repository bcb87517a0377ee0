/**
 * bench/store-roundtrip.ts against a real redis-server: a store it cannot reach is an error, not figures; one it
 * reaches gets the claim calls a batch makes (the ids are in the store afterwards) and a line per call kind.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from '../helpers/redis.js';
import { freePort } from '../helpers/collector.js';

const script = join(import.meta.dirname, '..', '..', 'bench', 'store-roundtrip.js');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { ...process.env, ROUNDTRIP_CALLS: '5', ROUNDTRIP_RATE: '200' }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

t.test('a store that does not answer: exit 1 and why, no figures', async (t) => {
  const port = await freePort();
  const r = await run([`redis://user:secret@127.0.0.1:${port}`]);
  t.equal(r.code, 1);
  t.match(r.stderr, /no connection within 5 s/);
  t.notMatch(r.stdout, /round trip/);
  t.notMatch(r.stderr + r.stdout, /secret/, 'the password is not printed');
});

t.test('a store that answers: PING, quota and claim timed, the claims made', async (t) => {
  const redis = await startRedis(t);
  const r = await run([redis.url]);
  t.equal(r.code, 0, r.stderr);
  for (const kind of ['PING', 'quota script', 'claim script']) {
    t.match(r.stdout, new RegExp(`${kind}.*round trip p50 [\\d.]+ p90 [\\d.]+ p99 [\\d.]+ ms; inside the store [\\d.]+ µs per call`), kind);
  }
  const client = new Redis(redis.url);
  t.teardown(() => client.disconnect());
  const claimed = await client.keys('roundtrip-*:d:*');
  t.equal(claimed.length, 5 * 100, '5 claim calls of 100 new ids each');
});
