/**
 * A real Kafka broker with secured listeners, as managed and company clusters run them:
 *   SECURED  SASL_SSL, SCRAM-SHA-512 and PLAIN (users made with Kafka's own kafka-configs tool)
 *   MTLS     SSL with client certificates required
 * The CA and certificates are made by openssl for each test run. PLAINTEXT stays the broker's own
 * listener (topics are created over it). Not the suite's shared broker: a broker of its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { LocalBroker, runKafkaTool } from '../../kafka/broker.js';
import { freePort } from './collector.js';

export interface Certs {
  dir: string;
  ca: string;
  /** the broker's PKCS12 keystore, password `changeit` */
  brokerStore: string;
  clientCert: string;
  clientKey: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** A CA, a broker certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA. */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(os.tmpdir(), 'kafka-certs-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=collector-test-ca'], dir);
  writeFileSync(join(dir, 'broker.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['broker', 'localhost'], ['client', 'event-collector']] as const) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir);
  }
  openssl(['pkcs12', '-export', '-in', 'broker.pem', '-inkey', 'broker.key', '-certfile', 'ca.pem', '-name', 'broker', '-out', 'broker.p12', '-passout', 'pass:changeit'], dir);
  return { dir, ca: join(dir, 'ca.pem'), brokerStore: join(dir, 'broker.p12'), clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key') };
}

export interface SecuredBroker {
  broker: LocalBroker;
  /** the PLAINTEXT listener: admin only */
  plaintext: string;
  saslSsl: string;
  mtls: string;
  certs: Certs;
  /** a SCRAM-SHA-512 user, made with kafka-configs over the PLAINTEXT listener */
  addScramUser(name: string, password: string): Promise<void>;
}

/** PLAIN users are in the listener's JAAS line, fixed at start. */
export const PLAIN_USER = { name: 'plain-collector', password: 'plain-secret-1' };

export async function startSecuredBroker(): Promise<SecuredBroker> {
  const certs = makeCerts();
  const saslPort = await freePort();
  const mtlsPort = await freePort();
  const keystore = (l: string) => [
    `listener.name.${l}.ssl.keystore.type=PKCS12`,
    `listener.name.${l}.ssl.keystore.location=${certs.brokerStore}`,
    `listener.name.${l}.ssl.keystore.password=changeit`,
    `listener.name.${l}.ssl.key.password=changeit`,
  ];
  const broker = await LocalBroker.start({
    listeners: [
      {
        name: 'SECURED', protocol: 'SASL_SSL', port: saslPort,
        properties: [
          ...keystore('secured'),
          'listener.name.secured.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN',
          'listener.name.secured.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
          `listener.name.secured.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${PLAIN_USER.name}="${PLAIN_USER.password}";`,
        ],
      },
      {
        name: 'MTLS', protocol: 'SSL', port: mtlsPort,
        properties: [
          ...keystore('mtls'),
          'listener.name.mtls.ssl.truststore.type=PEM',
          `listener.name.mtls.ssl.truststore.location=${certs.ca}`,
          'listener.name.mtls.ssl.client.auth=required',
        ],
      },
    ],
  });
  return {
    broker,
    plaintext: broker.bootstrap,
    saslSsl: `127.0.0.1:${saslPort}`,
    mtls: `127.0.0.1:${mtlsPort}`,
    certs,
    addScramUser: async (name, password) => {
      await runKafkaTool('kafka.admin.ConfigCommand', ['--bootstrap-server', broker.bootstrap, '--alter',
        '--add-config', `SCRAM-SHA-512=[iterations=4096,password=${password}]`, '--entity-type', 'users', '--entity-name', name]);
    },
  };
}
