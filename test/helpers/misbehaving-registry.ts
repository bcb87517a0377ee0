/**
 * A tiny HTTP server that answers the Confluent Schema Registry API like a broken registry
 * would (absurd version numbers, malformed versions): what a real registry never says, so the
 * registry source's defences can be tested. Working registries are tested against Apicurio
 * (test/integration/schema-registry.test.ts). Every request is counted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MisbehavingRegistry {
  url: string;
  /** requests received so far */
  readonly requests: number;
  /** what GET /subjects/{subject}/versions/latest answers, by subject (absent: 404) */
  latest: Map<string, unknown>;
  /** what GET /subjects/{subject}/versions/{n} answers, by `${subject}/${n}` (absent: 404) */
  versions: Map<string, unknown>;
  close(): Promise<void>;
}

const NOT_FOUND = { error_code: 40401, message: 'Subject not found' };

export async function startMisbehavingRegistry(): Promise<MisbehavingRegistry> {
  let requests = 0;
  const latest = new Map<string, unknown>();
  const versions = new Map<string, unknown>();
  const server = http.createServer((req, res) => {
    requests++;
    const m = /^\/subjects\/([^/]+)\/versions\/([^/]+)$/.exec(req.url ?? '');
    const subject = m ? decodeURIComponent(m[1]!) : '';
    // GET /config/{subject}: none of its own (Confluent's 404), so SCHEMA_COMPATIBILITY applies.
    const body = m ? (m[2] === 'latest' ? latest.get(subject) : versions.get(`${subject}/${m[2]}`)) : undefined;
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(body ?? NOT_FOUND));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    latest,
    versions,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
