/**
 * A 2xx promises that the event survives a broker's death. KAFKA_ACKS=1 or 0 cannot keep
 * that promise, so the collector refuses to start with it unless ALLOW_WEAK_ACKS=true — and
 * then GET /api/v1/health says so, for the operator and the load balancer's checks alike.
 */
import t from 'tap';
import { sharedBroker } from '../helpers/broker.js';
import { startCollector, waitHealthy } from '../helpers/collector.js';

const { bootstrap } = sharedBroker();

interface Health {
  durability: { acks: string; idempotent: boolean; weak_acks: boolean };
}
const health = async (url: string) => (await (await fetch(`${url}/api/v1/health`)).json()) as Health;

t.test('acks=1 without ALLOW_WEAK_ACKS: the collector does not start, and says why', async (t) => {
  const err = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_ACKS: '1', KAFKA_IDEMPOTENT: 'false' }).then(
    async (c) => {
      await c.stop();
      return null;
    },
    (e: Error) => e,
  );
  t.ok(err, 'refused at start');
  t.match(err?.message ?? '', /exited with [1-9]/, 'exits non-zero before listening');
  t.match(err?.message ?? '', /ALLOW_WEAK_ACKS/, 'the log names the way out');
});

t.test('acks=1 with ALLOW_WEAK_ACKS=true: serves, and health reports weak acks', async (t) => {
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_ACKS: '1', KAFKA_IDEMPOTENT: 'false', ALLOW_WEAK_ACKS: 'true',
  });
  t.teardown(() => c.stop());
  await waitHealthy(c.url, 60_000);
  t.same((await health(c.url)).durability, { acks: '1', idempotent: false, weak_acks: true });
});

t.test('the default: acks=all, idempotent, no weak acks reported', async (t) => {
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap });
  t.teardown(() => c.stop());
  await waitHealthy(c.url, 60_000);
  t.same((await health(c.url)).durability, { acks: 'all', idempotent: true, weak_acks: false });
});
