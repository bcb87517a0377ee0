/**
 * `node dist/bench/store-roundtrip.js [redis://host:port]`: what one batch's store calls cost on this machine, with
 * nothing of the collector around them — the floor under what REDIS_URL adds to an answer. Paced like the
 * steady-2k scenario (20 calls/s): PING, the quota script (src/shared-store/buckets.ts, one tenant) and the claim
 * script (src/shared-store/claims.ts, 100 new event ids), each timed from the client, and the time each spent
 * inside the store (INFO commandstats, usec_per_call). Without a URL it starts its own redis-server (Debian
 * package, no persistence) on a free port.
 *
 * Env: ROUNDTRIP_CALLS (400 per kind), ROUNDTRIP_RATE (20 per second).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pino from 'pino';
import { SharedStore } from '../src/shared-store/store.js';
import { SharedClaims } from '../src/shared-store/claims.js';
import { SharedBuckets } from '../src/shared-store/buckets.js';
import { freePort } from './lib/cluster.js';
import type { QuotaTable } from '../src/quota/table.js';

const calls = Number(process.env.ROUNDTRIP_CALLS ?? 400);
const rate = Number(process.env.ROUNDTRIP_RATE ?? 20);

async function main(): Promise<void> {
  let url = process.argv[2];
  let server: ReturnType<typeof spawn> | undefined;
  if (!url) {
    const port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    url = `redis://127.0.0.1:${port}`;
  }
  const store = new SharedStore({ url, timeoutMs: 10_000, keyPrefix: `roundtrip-${process.pid}:`, log: pino({ level: 'silent' }) });
  const shown = url.replace(/\/\/[^@]*@/, '//');
  // Our own server needs a moment to listen; a given URL gets the same 5 s.
  for (const end = Date.now() + 5000; store.redis.status !== 'ready' && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  if (store.redis.status !== 'ready') {
    server?.kill('SIGKILL');
    store.redis.disconnect();
    throw new Error(`${shown}: no connection within 5 s (${store.redis.status})`);
  }
  const claims = new SharedClaims(store, 60_000, 30_000);
  const buckets = new SharedBuckets(store, { take: () => 0 } as unknown as QuotaTable, 1);
  // One tenant, far above what this sends: every call debits and none waits (params as src/quota/policy.ts builds them).
  const quotaKeys = new BigUint64Array([0x5eedn]);
  const quotaParams = new Float64Array([1e7, 1e7, 1e10, 1e10, 100, 37_000, 1]);
  const kinds: [string, string, () => Promise<unknown>][] = [
    ['PING', 'cmdstat_ping', () => store.redis.ping()],
    ['quota script (1 tenant)', 'cmdstat_evalsha', () => buckets.take(quotaKeys, quotaParams)],
    ['claim script (100 ids)', 'cmdstat_evalsha', () => claims.claim(Array.from({ length: 100 }, () => ({ tenant: 'tenant_alpha', eventId: randomUUID() })))],
  ];
  console.log(`${shown}: ${calls} calls of each, ${rate} per second, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (const [name, stat, call] of kinds) {
    await store.redis.config('RESETSTAT');
    const took: number[] = [];
    for (let i = 0; i < calls; i++) {
      await new Promise((r) => setTimeout(r, 1000 / rate));
      const t0 = performance.now();
      await call();
      took.push(performance.now() - t0);
    }
    took.sort((a, b) => a - b);
    const q = (x: number) => took[Math.min(took.length - 1, Math.floor(x * took.length))]!.toFixed(2);
    const line = (await store.redis.info('commandstats')).split('\n').find((l) => l.startsWith(`${stat}:`)) ?? '';
    const inside = /usec_per_call=([\d.]+)/.exec(line)?.[1] ?? '?';
    console.log(`${name.padEnd(24)} round trip p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} ms; inside the store ${inside} µs per call`);
  }
  // A call that failed or timed out was answered by the fallback, not the store: its figures would be wrong.
  const { state, reason } = store.status;
  await store.close();
  server?.kill('SIGKILL');
  if (state !== 'shared') throw new Error(`${shown}: the store failed during the run (${reason}); the figures above are not its round trips`);
}

main().catch((err: unknown) => {
  console.error(`store-roundtrip: ${(err as Error).message}`);
  process.exit(1);
});
