/**
 * How the producer reaches a secured Kafka: the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and
 * KAFKA_SSL_* settings as librdkafka properties, checked at start with one clear line per problem.
 * Secrets are read from files (Kubernetes Secrets are mounted as files) and never logged: the
 * configuration holds only the paths.
 *
 * What can change without a restart: the SASL PLAIN/SCRAM password (credentials.ts reads its file
 * again when it changes). Certificates and keys cannot: librdkafka reads them once, when the client
 * is created; a rotated certificate needs a rolling restart (PM2 reload).
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';

type SecurityConfig = Pick<Config,
  | 'KAFKA_SECURITY_PROTOCOL' | 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD_FILE'
  | 'KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL' | 'KAFKA_SASL_OAUTHBEARER_CLIENT_ID' | 'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE'
  | 'KAFKA_SASL_OAUTHBEARER_SCOPE' | 'KAFKA_SSL_CA_LOCATION' | 'KAFKA_SSL_CERTIFICATE_LOCATION' | 'KAFKA_SSL_KEY_LOCATION'
  | 'KAFKA_SSL_KEY_PASSWORD_FILE' | 'KAFKA_SSL_ENDPOINT_IDENTIFICATION'>;

/** A secret file's content: one trailing newline (what `echo` and most editors add) is not part of it. */
export function readSecretFile(path: string): string {
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
}

function readable(name: string, path: string, problems: string[]): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    problems.push(`${name}=${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Everything wrong with the security settings, one line each; [] when they can be used. */
export function securityProblems(c: SecurityConfig): string[] {
  const problems: string[] = [];
  const sasl = c.KAFKA_SECURITY_PROTOCOL.startsWith('sasl_');
  const tls = c.KAFKA_SECURITY_PROTOCOL.endsWith('ssl');
  if (sasl && c.KAFKA_SASL_MECHANISM === '') problems.push(`KAFKA_SECURITY_PROTOCOL=${c.KAFKA_SECURITY_PROTOCOL}: set KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)`);
  if (!sasl && c.KAFKA_SASL_MECHANISM !== '') problems.push(`KAFKA_SASL_MECHANISM=${c.KAFKA_SASL_MECHANISM}: needs KAFKA_SECURITY_PROTOCOL=sasl_ssl (or sasl_plaintext)`);
  if (sasl && (c.KAFKA_SASL_MECHANISM === 'PLAIN' || c.KAFKA_SASL_MECHANISM.startsWith('SCRAM'))) {
    if (c.KAFKA_SASL_USERNAME === '') problems.push(`KAFKA_SASL_MECHANISM=${c.KAFKA_SASL_MECHANISM}: set KAFKA_SASL_USERNAME`);
    if (c.KAFKA_SASL_PASSWORD_FILE === '') problems.push(`KAFKA_SASL_MECHANISM=${c.KAFKA_SASL_MECHANISM}: set KAFKA_SASL_PASSWORD_FILE (a file holding the password)`);
    else readable('KAFKA_SASL_PASSWORD_FILE', c.KAFKA_SASL_PASSWORD_FILE, problems);
  }
  if (sasl && c.KAFKA_SASL_MECHANISM === 'OAUTHBEARER') {
    for (const k of ['KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL', 'KAFKA_SASL_OAUTHBEARER_CLIENT_ID', 'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE'] as const) {
      if (c[k] === '') problems.push(`KAFKA_SASL_MECHANISM=OAUTHBEARER: set ${k}`);
    }
    if (c.KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE !== '') readable('KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE', c.KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE, problems);
  }
  const tlsFiles = ['KAFKA_SSL_CA_LOCATION', 'KAFKA_SSL_CERTIFICATE_LOCATION', 'KAFKA_SSL_KEY_LOCATION', 'KAFKA_SSL_KEY_PASSWORD_FILE'] as const;
  for (const k of tlsFiles) {
    if (c[k] === '') continue;
    if (!tls) problems.push(`${k}: needs KAFKA_SECURITY_PROTOCOL=ssl or sasl_ssl (it is ${c.KAFKA_SECURITY_PROTOCOL})`);
    else readable(k, c[k], problems);
  }
  if ((c.KAFKA_SSL_CERTIFICATE_LOCATION === '') !== (c.KAFKA_SSL_KEY_LOCATION === '')) {
    problems.push('mTLS needs both KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION');
  }
  return problems;
}

/** The librdkafka global properties for these settings (secrets read from their files now). */
export function securitySettings(c: SecurityConfig): Record<string, string> {
  const out: Record<string, string> = {};
  if (c.KAFKA_SECURITY_PROTOCOL === 'plaintext') return out;
  out['security.protocol'] = c.KAFKA_SECURITY_PROTOCOL;
  if (c.KAFKA_SECURITY_PROTOCOL.endsWith('ssl')) {
    out['ssl.endpoint.identification.algorithm'] = c.KAFKA_SSL_ENDPOINT_IDENTIFICATION;
    if (c.KAFKA_SSL_CA_LOCATION) out['ssl.ca.location'] = c.KAFKA_SSL_CA_LOCATION;
    if (c.KAFKA_SSL_CERTIFICATE_LOCATION) out['ssl.certificate.location'] = c.KAFKA_SSL_CERTIFICATE_LOCATION;
    if (c.KAFKA_SSL_KEY_LOCATION) out['ssl.key.location'] = c.KAFKA_SSL_KEY_LOCATION;
    if (c.KAFKA_SSL_KEY_PASSWORD_FILE) out['ssl.key.password'] = readSecretFile(c.KAFKA_SSL_KEY_PASSWORD_FILE);
  }
  if (c.KAFKA_SECURITY_PROTOCOL.startsWith('sasl_')) {
    out['sasl.mechanisms'] = c.KAFKA_SASL_MECHANISM;
    if (c.KAFKA_SASL_MECHANISM === 'OAUTHBEARER') {
      out['sasl.oauthbearer.method'] = 'oidc';
      out['sasl.oauthbearer.token.endpoint.url'] = c.KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL;
      out['sasl.oauthbearer.client.id'] = c.KAFKA_SASL_OAUTHBEARER_CLIENT_ID;
      out['sasl.oauthbearer.client.secret'] = readSecretFile(c.KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE);
      if (c.KAFKA_SASL_OAUTHBEARER_SCOPE) out['sasl.oauthbearer.scope'] = c.KAFKA_SASL_OAUTHBEARER_SCOPE;
    } else {
      out['sasl.username'] = c.KAFKA_SASL_USERNAME;
      out['sasl.password'] = readSecretFile(c.KAFKA_SASL_PASSWORD_FILE);
    }
  }
  return out;
}
