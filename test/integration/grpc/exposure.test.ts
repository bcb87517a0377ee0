/**
 * What the gRPC door exposes to a client that has no business there (AUTH_MODE=api_key):
 * - a call is judged by its key before its message is decoded: a wrong key with a large message
 *   that would not even decode is answered UNAUTHENTICATED (the decoder would have said
 *   INTERNAL/INVALID_ARGUMENT), so an unauthenticated client cannot make the process decode
 *   up to 4 × MAX_BODY_BYTES per call;
 * - one connection holds at most GRPC_MAX_CONCURRENT_STREAMS streams: the ones over it are
 *   refused (RST_STREAM REFUSED_STREAM) and never reach the service;
 * - GRPC_REFLECTION=false: grpcurl cannot list the services;
 * - keys sent in plaintext to a non-loopback address are warned about at start.
 * Real collector processes; raw clients (grpc-js with a bytes serializer, node:http2) where a
 * well-behaved grpc-js client would not send what is tested.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { sharedBroker } from '../../helpers/broker.js';
import { freePort, startCollector, waitHealthy, type RunningCollector } from '../../helpers/collector.js';
import { batchOf, GRPCURL, grpcClient, grpcurl, metric } from '../../helpers/grpc.js';
import { collectorServiceDefinition, SERVICE_NAME } from '../../../src/grpc/contract.js';
import type { CollectResponse } from '../../../src/grpc/ingest.js';

t.setTimeout(300_000);
const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../../src/auth/cli.js', import.meta.url));
const { bootstrap } = sharedBroker();
const KEYS = join(mkdtempSync(join(os.tmpdir(), 'grpc-exposure-')), 'api-keys.json');
const PLAINTEXT_WARNING = 'API keys travel in plaintext';
const MAX_STREAMS = 2;

let key: string;
/** HOST 0.0.0.0, plaintext, reflection off, at most MAX_STREAMS streams per connection */
let exposed: RunningCollector;
let exposedPort: number;
/** loopback, reflection on (the defaults) */
let local: RunningCollector;
let localPort: number;

t.before(async () => {
  key = (await run(process.execPath, [CLI, '--file', KEYS, 'add', '--tenant', 'tenant_alpha'])).stdout.trim();
  [exposedPort, localPort] = [await freePort(), await freePort()];
  const auth = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, AUTH_MODE: 'api_key', API_KEYS_FILE: KEYS };
  [exposed, local] = await Promise.all([
    startCollector({ ...auth, HOST: '0.0.0.0', GRPC_PORT: String(exposedPort), GRPC_REFLECTION: 'false', GRPC_MAX_CONCURRENT_STREAMS: String(MAX_STREAMS) }),
    startCollector({ ...auth, GRPC_PORT: String(localPort) }),
  ]);
  await Promise.all([waitHealthy(exposed.url), waitHealthy(local.url)]);
});
t.teardown(async () => {
  await Promise.all([exposed?.stop(), local?.stop()]);
});

function bearer(k: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${k}`);
  return md;
}

/** Collect with the message as raw bytes: what a client can put on the wire, decodable or not. */
function collectBytes(port: number, message: Buffer, md: grpc.Metadata): Promise<{ err: grpc.ServiceError | null; res?: CollectResponse }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const decode = collectorServiceDefinition().Collect!.responseDeserialize as (b: Buffer) => CollectResponse;
  return new Promise((resolve) => {
    client.makeUnaryRequest(`/${SERVICE_NAME}/Collect`, (b: Buffer) => b, decode, message, md, { deadline: Date.now() + 60_000 }, (err, res) => {
      client.close();
      resolve({ err, res });
    });
  });
}

t.test('a wrong key with a large message that would not decode: UNAUTHENTICATED, the message never decoded', async (t) => {
  // 0xff is a field tag of wire type 7, which protobuf does not have: no decoder takes this message.
  const undecodable = Buffer.alloc(3 * 1024 * 1024, 0xff);
  const wrong = await collectBytes(localPort, undecodable, bearer(`${key.slice(0, -4)}AAAA`));
  t.equal(wrong.err?.code, grpc.status.UNAUTHENTICATED, `a wrong key: UNAUTHENTICATED (got ${wrong.err?.code} ${wrong.err?.details})`);
  t.same(wrong.err?.metadata.get('collector-error-code'), ['COLLECTOR_ERR_UNAUTHENTICATED']);
  const none = await collectBytes(localPort, undecodable, new grpc.Metadata());
  t.equal(none.err?.code, grpc.status.UNAUTHENTICATED, 'no key: UNAUTHENTICATED');
  // The same bytes with the right key are decoded, and refused for what they are.
  const right = await collectBytes(localPort, undecodable, bearer(key));
  t.equal(right.err?.code, grpc.status.INVALID_ARGUMENT, `the right key: the message is judged (${right.err?.details})`);
  t.same(right.err?.metadata.get('collector-error-code'), ['COLLECTOR_ERR_BATCH_SHAPE']);
  t.match(right.err?.details, /not a CollectRequest/);
  // And a good batch still goes through the same door.
  const client = grpcClient(localPort);
  t.teardown(() => client.close());
  const ok = await new Promise<{ err: grpc.ServiceError | null; res?: CollectResponse }>((resolve) =>
    client.Collect(batchOf(2), bearer(key), { deadline: Date.now() + 60_000 }, (err, res) => resolve({ err, res })),
  );
  t.equal(ok.err, null);
  t.equal(ok.res?.accepted_count, 2);
});

t.test(`streams over GRPC_MAX_CONCURRENT_STREAMS (${MAX_STREAMS}) on one connection are refused`, async (t) => {
  // node:http2 sends all four before the server's SETTINGS arrive, as a client that ignores them would.
  const session = http2.connect(`http://127.0.0.1:${exposedPort}`);
  t.teardown(() => session.destroy());
  session.on('error', () => undefined);
  const encode = collectorServiceDefinition().CollectStream!.requestSerialize as (r: object) => Buffer;
  const outcomes = await Promise.all(
    Array.from({ length: MAX_STREAMS + 2 }, () => new Promise<'served' | number>((resolve) => {
      const s = session.request(
        { ':method': 'POST', ':path': `/${SERVICE_NAME}/CollectStream`, 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${key}` },
        { endStream: false },
      );
      s.on('error', () => undefined);
      // One batch per stream, gRPC-framed (uncompressed flag, length, message); the stream stays open.
      const message = encode(batchOf(1));
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(message.length, 1);
      s.write(Buffer.concat([prefix, message]));
      s.on('data', () => resolve('served'));
      s.on('close', () => resolve(s.rstCode ?? -1));
    })),
  );
  t.equal(outcomes.filter((o) => o === 'served').length, MAX_STREAMS, `${MAX_STREAMS} streams served (${JSON.stringify(outcomes)})`);
  t.equal(outcomes.filter((o) => o === http2.constants.NGHTTP2_REFUSED_STREAM).length, 2, 'the others refused (REFUSED_STREAM)');
  // The gauge is published with the process's telemetry: wait for it to show the open streams.
  let active = -1;
  for (const end = Date.now() + 10_000; active !== MAX_STREAMS && Date.now() < end;) {
    active = await metric(exposed.url, 'collector_grpc_active_streams');
    if (active !== MAX_STREAMS) await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(active, MAX_STREAMS, 'the service holds only the streams within the bound');
});

t.test('GRPC_REFLECTION=false: grpcurl cannot list the services; on by default', async (t) => {
  if (!existsSync(GRPCURL)) return t.fail(`grpcurl not built at ${GRPCURL} (.ci/run builds it)`);
  const off = await grpcurl(['-plaintext', `127.0.0.1:${exposedPort}`, 'list']);
  t.not(off.code, 0, 'grpcurl list fails');
  t.match(off.stderr, /reflection/i, off.stderr.trim());
  t.notMatch(off.stdout, SERVICE_NAME);
  const on = await grpcurl(['-plaintext', `127.0.0.1:${localPort}`, 'list']);
  t.equal(on.code, 0, on.stderr);
  t.match(on.stdout, SERVICE_NAME);
});

t.test('API keys over plaintext gRPC on a non-loopback address: warned at start; not on loopback', async (t) => {
  const line = exposed.logs.join('').split('\n').find((l) => l.includes(PLAINTEXT_WARNING));
  t.ok(line, 'the warning is in the log');
  t.match(JSON.parse(line ?? '{}'), { level: 40, host: '0.0.0.0', grpc_port: exposedPort });
  t.notMatch(local.logs.join(''), PLAINTEXT_WARNING, 'loopback: no warning');
});
