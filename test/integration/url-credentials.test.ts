/**
 * Credentials in a URL-valued setting (SCHEMA_REGISTRY_URL=http://user:password@…) never reach the collector's output: not the effective-configuration line
 * every start writes, not the registry failures it logs, not the message it exits with when the
 * URL is refused. Real processes; the registry is a port nothing answers on.
 */
import t from 'tap';
import { sharedBroker } from '../helpers/broker.js';
import { freePort, startCollector } from '../helpers/collector.js';

t.setTimeout(180_000);
const { bootstrap } = sharedBroker();
const SECRET = 'hunter2-registry-pw';

t.test('a registry URL with credentials: masked in every line of a start', async (t) => {
  const deadPort = await freePort();
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap,
    SCHEMA_REGISTRY_URL: `http://svc:${SECRET}@127.0.0.1:${deadPort}/apis/ccompat/v7`,
    SCHEMA_REGISTRY_TIMEOUT_MS: '300',
    SCHEMA_REGISTRY_REFRESH_MS: '200',
  });
  t.teardown(() => c.stop());
  // A few refreshes fail (nothing listens): their errors are logged too.
  await new Promise((r) => setTimeout(r, 1500));
  const out = c.logs.join('');
  const config = out.split('\n').find((l) => l.includes('effective configuration'));
  t.ok(config, 'the configuration is logged');
  t.match(config, `"SCHEMA_REGISTRY_URL":"http://***@127.0.0.1:${deadPort}/apis/ccompat/v7"`, 'the registry named, its user-info masked');
  t.match(out, /reload failed|loading http/, 'registry failures were logged');
  t.notMatch(out, SECRET, 'the password appears nowhere in the output');
  t.notMatch(out, 'svc:', 'nor the user name');
});

t.test('a refused registry URL: the exit message masks its credentials', async (t) => {
  const err = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, SCHEMA_REGISTRY_URL: `ftp://svc:${SECRET}@registry.example:8081` }, 30_000).then(
    () => null,
    (e: Error) => e,
  );
  t.ok(err, 'the collector refuses to start');
  t.match(err?.message, /SCHEMA_REGISTRY_URL is not an http\(s\) URL/);
  t.notMatch(err?.message, SECRET);
});
