// Library comparison behind README "Design" (gRPC library): the same unary Collect handler (decode, answer) served by
// @grpc/grpc-js (+ @grpc/proto-loader) and by @connectrpc/connect-node (+ @bufbuild/protobuf, from the same descriptors),
// 8 concurrent callers, 100-event typed batches. Not part of `npm run bench` (connect-node is not a dependency):
//   npm run build && npm install --no-save @connectrpc/connect-node@2.2.0 @connectrpc/connect@2.2.0 @bufbuild/protobuf@2.17.0
//   node bench/micro/grpc-libraries.mjs [seconds=8]
import http2 from 'node:http2';
import { createRequire } from 'node:module';
const W = new URL('../../', import.meta.url).pathname; // the repo root
const req = createRequire(W + 'package.json');
const grpc = req('@grpc/grpc-js');
const { packageDefinition, SERVICE_NAME } = await import(W + 'dist/src/grpc/contract.js');
const { withImports } = await import(W + 'dist/src/grpc/reflection.js');
const { batchOf } = await import(W + 'dist/test/helpers/grpc.js');
const { createFileRegistry, fromBinary, create } = await import('@bufbuild/protobuf');
const { FileDescriptorSetSchema } = await import('@bufbuild/protobuf/wkt');
const { connectNodeAdapter, createGrpcTransport } = await import('@connectrpc/connect-node');
const { createClient } = await import('@connectrpc/connect');
const desc = req('protobufjs/ext/descriptor');

const SECONDS = Number(process.argv[2] ?? 8);
const CONC = 8;
const def = packageDefinition[SERVICE_NAME];
const reqMsg = batchOf(100);
const reqBin = def.Collect.requestSerialize(reqMsg);
const answer = { batch_id: 'x', outcome: 'OUTCOME_ACCEPTED', accepted_count: 100, kafka_partitions: [0, 1, 2] };

async function drive(call) {
  let n = 0; const end = Date.now() + SECONDS * 1000; const lat = [];
  await Promise.all(Array.from({ length: CONC }, async () => { while (Date.now() < end) { const t = performance.now(); await call(); lat.push(performance.now() - t); n++; } }));
  lat.sort((a, b) => a - b);
  return { callsPerS: Math.round(n / SECONDS), eventsPerS: Math.round((n * 100) / SECONDS), p50: +lat[Math.floor(lat.length / 2)].toFixed(2), p99: +lat[Math.floor(lat.length * 0.99)].toFixed(2) };
}

// grpc-js
const gs = new grpc.Server();
gs.addService(def, { Collect: (call, cb) => { void call.request.events.length; cb(null, answer); }, CollectStream: () => {} });
const gport = await new Promise((r) => gs.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (_e, p) => r(p)));
const GC = grpc.makeClientConstructor(def, SERVICE_NAME);
const gclient = new GC(`127.0.0.1:${gport}`, grpc.credentials.createInsecure());
const gres = await drive(() => new Promise((res, rej) => gclient.Collect(reqMsg, (e, r) => (e ? rej(e) : res(r)))));
gclient.close(); gs.forceShutdown();

// connect-node, from the same descriptors
const fixed = withImports(packageDefinition);
const byName = new Map();
for (const v of Object.values(fixed)) for (const b of v.fileDescriptorProtos ?? []) { const f = desc.FileDescriptorProto.decode(b); byName.set(f.name, f); }
const files = [...byName.values()].sort((a, b) => (a.name.startsWith('google') ? -1 : 1) - (b.name.startsWith('google') ? -1 : 1));
const setBin = desc.FileDescriptorSet.encode({ file: files }).finish();
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, setBin));
const service = registry.getService(SERVICE_NAME);
const Resp = registry.getMessage('collector.v1.CollectResponse');
const Req = registry.getMessage('collector.v1.CollectRequest');
const handler = connectNodeAdapter({ routes: (router) => router.service(service, { collect: (r) => { void r.events.length; return create(Resp, { batchId: 'x', outcome: 1, acceptedCount: 100, kafkaPartitions: [0, 1, 2] }); }, collectStream: async function* () {} }) });
const hs = http2.createServer(handler);
await new Promise((r) => hs.listen(0, '127.0.0.1', r));
const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${hs.address().port}`, httpVersion: '2' });
const cclient = createClient(service, transport);
const creq = fromBinary(Req, reqBin);
const cres = await drive(() => cclient.collect(creq));
hs.close();
console.log(JSON.stringify({ seconds: SECONDS, concurrency: CONC, grpcJs: gres, connectNode: cres }));
process.exit(0);
