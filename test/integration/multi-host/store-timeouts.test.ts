/**
 * A store call slower than REDIS_TIMEOUT_MS is judged by the host alone, that call only (an answer that came
 * while this process was busy past the bound is read, not timed out); the store
 * is degraded (every call host-local until a PING answers) after DEGRADE_AFTER_TIMEOUTS in a row, or
 * at once on an error. A real redis-server; a slow call is a BLPOP that waits longer than the bound.
 */
import t from 'tap';
import pino from 'pino';
import client from 'prom-client';
import { DEGRADE_AFTER_TIMEOUTS, SharedStore } from '../../../src/shared-store/store.js';
import { StoreMetrics } from '../../../src/telemetry/store-metrics.js';
import { startRedis } from '../../helpers/redis.js';
import { sleep } from '../../helpers/load.js';
import { waitFor } from '../../helpers/wait.js';

t.test('one slow call falls back alone; several in a row degrade the store; an error degrades at once', async (t) => {
  const redis = await startRedis(t);
  const registry = new client.Registry();
  // A bound a busy CI machine keeps for a PING; the slow call waits well past it.
  const store = new SharedStore({ url: redis.url, timeoutMs: 250, keyPrefix: 'timeouts:', log: pino({ level: 'silent' }), metrics: new StoreMetrics(registry) });
  t.teardown(() => store.close());
  // Connected and shared (a ready check slower than the bound degrades it at start; the probe brings it back).
  await waitFor(async () => store.shared && store.redis.status === 'ready', (ok) => ok, 10_000);
  const fallbacksBefore = async () => (await registry.getSingleMetric('collector_shared_store_fallbacks_total')!.get()).values.find((v) => v.labels.call === 'quota')!.value;
  const before = await fallbacksBefore();
  // BLPOP on an empty list answers nil after its own timeout (s): a call the store answers late.
  const slow = () => store.call('quota', (r) => r.blpop('timeouts:empty', 0.6));
  const fast = () => store.call('quota', (r) => r.ping());
  const lateAnswer = () => sleep(700); // the late answer arrives; the connection is free again

  t.equal(await slow(), undefined, 'a call over the bound: judged locally');
  t.ok(store.shared, 'one slow call does not degrade the store');
  await lateAnswer();
  t.equal(await fast(), 'PONG', 'the next call goes to the store');

  for (let i = 1; i < DEGRADE_AFTER_TIMEOUTS; i++) {
    await slow();
    await lateAnswer();
    t.equal(await fast(), 'PONG', 'an answer in between resets the count');
  }
  t.ok(store.shared);

  for (let i = 0; i < DEGRADE_AFTER_TIMEOUTS; i++) {
    await slow();
    if (i < DEGRADE_AFTER_TIMEOUTS - 1) t.ok(store.shared, `still shared after ${i + 1} slow call(s) in a row`);
  }
  t.notOk(store.shared, `degraded after ${DEGRADE_AFTER_TIMEOUTS} slow calls in a row`);
  t.match(store.status.reason ?? '', /in a row slower than 250 ms/, 'health says why');
  t.equal(await fast(), undefined, 'while degraded no call is made');
  t.equal((await fallbacksBefore()) - before, 2 * DEGRADE_AFTER_TIMEOUTS + 1, 'each slow call and the skipped one counted as a fallback');

  // The probe's PING finds it answering again (once the last late answer is in).
  await waitFor(async () => store.shared, (ok) => ok, 10_000);
  t.ok(store.shared, 'back to shared by itself');

  t.equal(await store.call('quota', (r) => r.call('NO-SUCH-COMMAND') as Promise<unknown>), undefined, 'an error: judged locally');
  t.notOk(store.shared, 'and the store is degraded at once');
});

t.test('an answer that came while this process was busy past the bound is not a timeout', async (t) => {
  const redis = await startRedis(t);
  const registry = new client.Registry();
  const store = new SharedStore({ url: redis.url, timeoutMs: 50, keyPrefix: 'busy:', log: pino({ level: 'silent' }), metrics: new StoreMetrics(registry) });
  t.teardown(() => store.close());
  await waitFor(async () => store.shared && store.redis.status === 'ready', (ok) => ok, 10_000);
  for (let i = 0; i < DEGRADE_AFTER_TIMEOUTS + 1; i++) {
    const answer = store.call('quota', (r) => r.ping());
    // The event loop is busy for 4× the bound (a saturated collector); the store answers at once meanwhile.
    const until = performance.now() + 200;
    while (performance.now() < until);
    t.equal(await answer, 'PONG', `call ${i + 1}: the answer is read, not taken for a timeout`);
  }
  t.ok(store.shared, 'the store is not degraded');
  const fallbacks = (await registry.getSingleMetric('collector_shared_store_fallbacks_total')!.get()).values.find((v) => v.labels.call === 'quota')!.value;
  t.equal(fallbacks, 0, 'no batch judged by the host alone');
});
