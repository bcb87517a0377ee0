/**
 * gRPC over TLS and mutual TLS, with certificates made here by openssl: a client that trusts
 * the CA is served; with GRPC_TLS_CLIENT_CA set, a client without a certificate is refused and
 * one with a certificate the CA signed is served.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy } from '../../helpers/collector.js';
import { batchOf, collect, grpcClient } from '../../helpers/grpc.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-grpc-tls-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
t.setTimeout(300_000);

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA. */
function makeCerts(): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const dir = mkdtempSync(join(os.tmpdir(), 'grpc-tls-'));
  const p = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', p('ca.key'), '-out', p('ca.pem'));
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', p(`${who}.key`), '-out', p(`${who}.csr`));
    const ext = p(`${who}.ext`);
    execFileSync('sh', ['-c', `printf '%s\\n' "${who === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost' : 'extendedKeyUsage=clientAuth'}" > ${ext}`]);
    ssl('x509', '-req', '-in', p(`${who}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', p(`${who}.pem`));
  }
  return { ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}

t.test('TLS, then mutual TLS', async (t) => {
  await createTopics([
    { name: TOPIC, partitions: 1 },
    { name: DLQ, partitions: 1 },
  ]);
  const certs = makeCerts();
  const ca = readFileSync(certs.ca);

  const port = await freePort();
  let collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(port),
    GRPC_TLS_CERT: certs.serverCert, GRPC_TLS_KEY: certs.serverKey,
  });
  await waitHealthy(collector.url);
  const tlsClient = grpcClient(port, grpc.credentials.createSsl(ca));
  const ok = await collect(tlsClient, batchOf(2));
  t.equal(ok.err, null, 'TLS: served');
  t.equal(ok.res?.accepted_count, 2);
  const plain = grpcClient(port);
  const refused = await collect(plain, batchOf(1), 10_000);
  t.equal(refused.err?.code, grpc.status.UNAVAILABLE, 'a plaintext client gets no answer from a TLS port');
  tlsClient.close();
  plain.close();
  await collector.stop();

  const mport = await freePort();
  collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(mport),
    GRPC_TLS_CERT: certs.serverCert, GRPC_TLS_KEY: certs.serverKey, GRPC_TLS_CLIENT_CA: certs.ca,
  });
  t.teardown(() => collector.stop());
  await waitHealthy(collector.url);
  const noCert = grpcClient(mport, grpc.credentials.createSsl(ca));
  const denied = await collect(noCert, batchOf(1), 10_000);
  t.equal(denied.err?.code, grpc.status.UNAVAILABLE, 'mTLS: a client without a certificate is refused');
  t.equal(denied.res, undefined);
  const withCert = grpcClient(mport, grpc.credentials.createSsl(ca, readFileSync(certs.clientKey), readFileSync(certs.clientCert)));
  const served = await collect(withCert, batchOf(3));
  t.equal(served.err, null, 'mTLS: a client with a CA-signed certificate is served');
  t.equal(served.res?.accepted_count, 3);
  noCert.close();
  withCert.close();
});
