/**
 * The collector against a secured Kafka, as production clusters are: a real broker with a SASL_SSL
 * listener (SCRAM-SHA-512 and PLAIN) and an mTLS listener, certificates made by openssl. Events flow
 * and are read back over the secured listener; a wrong password spills (nothing lost), says
 * "authentication failed" in health and once in the log; the right password written to the Secret
 * file is picked up without a restart and the spill is replayed. Secrets never reach the log.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSecuredBroker, PLAIN_USER, type SecuredBroker } from '../../helpers/secured-kafka.js';
import { startCollector } from '../../helpers/collector.js';
import { readUntilIds } from '../../helpers/consumer.js';
import { waitFor } from '../../helpers/wait.js';
import { syntheticBatch } from '../../../src/pipeline/synthetic.js';

let kafka: SecuredBroker;
const SCRAM_USER = 'collector-svc';
const RIGHT = `right-${randomUUID()}`;
const WRONG = `wrong-${randomUUID()}`;

t.before(async () => {
  kafka = await startSecuredBroker();
  await kafka.addScramUser(SCRAM_USER, RIGHT);
});
t.teardown(() => kafka?.broker.stop());

async function topics(prefix: string): Promise<{ topic: string; dlq: string }> {
  const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
  await kafka.broker.createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  return { topic, dlq: `${topic}-dlq` };
}

function secretFile(value: string): string {
  const path = join(kafka.certs.dir, `password-${randomUUID()}`);
  writeFileSync(path, `${value}\n`);
  return path;
}

/** As Kubernetes updates a mounted Secret: the new content appears whole, by a rename. */
function replaceSecret(path: string, value: string): void {
  writeFileSync(`${path}.new`, `${value}\n`);
  renameSync(`${path}.new`, path);
}

async function post(url: string, events: Record<string, unknown>[]) {
  const r = await fetch(`${url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  return { status: r.status, body: (await r.json()) as { buffered?: boolean; accepted_count: number } };
}

const scram = (password: string) => ({
  'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': SCRAM_USER, 'sasl.password': password, 'ssl.ca.location': kafka.certs.ca,
} as const);

t.test('SASL_SSL with SCRAM-SHA-512: events land and read back over the secured listener; no secret in the log', async (t) => {
  const { topic, dlq } = await topics('events-scram');
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: kafka.saslSsl, KAFKA_TOPIC: topic, DLQ_TOPIC: dlq,
    KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: SCRAM_USER,
    KAFKA_SASL_PASSWORD_FILE: secretFile(RIGHT), KAFKA_SSL_CA_LOCATION: kafka.certs.ca,
  });
  t.teardown(() => c.stop());
  const events = syntheticBatch(50, { learners: 5 });
  const r = await post(c.url, events);
  t.equal(r.status, 200);
  t.notOk(r.body.buffered, 'written to Kafka, not spilled');
  const got = await readUntilIds(kafka.saslSsl, topic, events.map((e) => e.event_id as string), 60_000, scram(RIGHT));
  t.equal(got.length, 50, 'read back over SASL_SSL');
  t.notOk(c.logs.join('').includes(RIGHT), 'the password is never logged');
});

t.test('SASL_SSL with PLAIN', async (t) => {
  const { topic, dlq } = await topics('events-plain');
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: kafka.saslSsl, KAFKA_TOPIC: topic, DLQ_TOPIC: dlq,
    KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: PLAIN_USER.name,
    KAFKA_SASL_PASSWORD_FILE: secretFile(PLAIN_USER.password), KAFKA_SSL_CA_LOCATION: kafka.certs.ca,
  });
  t.teardown(() => c.stop());
  const events = syntheticBatch(20, { learners: 3 });
  t.equal((await post(c.url, events)).status, 200);
  const got = await readUntilIds(kafka.saslSsl, topic, events.map((e) => e.event_id as string), 60_000, scram(RIGHT));
  t.equal(got.length, 20);
});

t.test('mTLS: the client certificate is the identity', async (t) => {
  const { topic, dlq } = await topics('events-mtls');
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: kafka.mtls, KAFKA_TOPIC: topic, DLQ_TOPIC: dlq, KAFKA_SECURITY_PROTOCOL: 'ssl',
    KAFKA_SSL_CA_LOCATION: kafka.certs.ca, KAFKA_SSL_CERTIFICATE_LOCATION: kafka.certs.clientCert, KAFKA_SSL_KEY_LOCATION: kafka.certs.clientKey,
  });
  t.teardown(() => c.stop());
  const events = syntheticBatch(20, { learners: 3 });
  const r = await post(c.url, events);
  t.equal(r.status, 200);
  t.notOk(r.body.buffered);
  const got = await readUntilIds(kafka.mtls, topic, events.map((e) => e.event_id as string), 60_000, {
    'security.protocol': 'ssl', 'ssl.ca.location': kafka.certs.ca, 'ssl.certificate.location': kafka.certs.clientCert, 'ssl.key.location': kafka.certs.clientKey,
  });
  t.equal(got.length, 20, 'read back over the mTLS listener');
});

t.test('a wrong password: events spill, health says authentication failed; the Secret fixed: replayed, no restart', async (t) => {
  const { topic, dlq } = await topics('events-rotate');
  const passwordFile = secretFile(WRONG);
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: kafka.saslSsl, KAFKA_TOPIC: topic, DLQ_TOPIC: dlq,
    KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: SCRAM_USER,
    KAFKA_SASL_PASSWORD_FILE: passwordFile, KAFKA_SSL_CA_LOCATION: kafka.certs.ca, KAFKA_CONNECT_WAIT_MS: '3000',
  });
  t.teardown(() => c.stop());

  const events = syntheticBatch(40, { learners: 4 });
  const r = await post(c.url, events);
  t.equal(r.status, 200, 'accepted');
  t.equal(r.body.buffered, true, 'kept in the spill log: Kafka refuses the credentials');
  const health = await waitFor(
    async () => (await (await fetch(`${c.url}/api/v1/health`)).json()) as { status: string; kafka_problem?: string },
    (h) => h.kafka_problem !== undefined, 30_000, 250,
  );
  t.equal(health.status, 'degraded');
  t.equal(health.kafka_problem, 'authentication failed');
  const authLines = () => c.logs.join('').split('\n').filter((l) => l.includes('kafka authentication failed')).length;
  await new Promise((res) => setTimeout(res, 6000)); // librdkafka retries meanwhile: still one line
  t.equal(authLines(), 1, 'one clear log line, not one per retry');

  replaceSecret(passwordFile, RIGHT);
  const got = await readUntilIds(kafka.saslSsl, topic, events.map((e) => e.event_id as string), 90_000, scram(RIGHT));
  t.equal(got.length, 40, 'the spilled events replayed once the password is right');
  t.match(c.logs.join(''), /kafka SASL password reloaded/);
  const healthy = await waitFor(
    async () => (await (await fetch(`${c.url}/api/v1/health`)).json()) as { status: string; kafka_problem?: string },
    (h) => h.status === 'healthy', 60_000, 500,
  );
  t.notOk(healthy.kafka_problem, 'the problem is gone from health');
  const all = c.logs.join('');
  t.notOk(all.includes(RIGHT) || all.includes(WRONG), 'neither password is ever logged');
});
