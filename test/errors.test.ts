/**
 * The error registry is complete: every code has an HTTP status, a gRPC status and a
 * message, the gRPC numbers are the protocol's, and the README's tables list every public
 * code with its status and message (the codes and messages are API).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { AUTH_DETAIL, ERRORS, Grpc, INTERNAL_ERRORS, InternalError, REFUSALS, type ErrorCode } from '../src/errors.js';
import { SPILL_ERRORS } from '../src/spill/errors.js';
import { ConfigError } from '../src/config/load.js';
import { KeysFileError } from '../src/auth/keys-file.js';
import { QuotaFileError } from '../src/quota/policy.js';
import { DedupUnavailableError } from '../src/dedup/table.js';
import { grpcCodeOf } from '../src/grpc/status.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('every entry has a status, a gRPC status and a message', async (t) => {
  const grpcCodes = new Set<number>(Object.values(Grpc));
  for (const [code, spec] of Object.entries(ERRORS)) {
    t.match(code, /^COLLECTOR_ERR_[A-Z0-9_]+$/, `${code} has the public prefix`);
    t.ok(Number.isInteger(spec.status) && spec.status >= 400 && spec.status < 600, `${code} has an HTTP error status`);
    t.ok(grpcCodes.has(spec.grpc), `${code} has a gRPC status`);
    t.ok(typeof spec.message === 'string' && spec.message.length > 0, `${code} has a message`);
    t.equal(grpcCodeOf(code as ErrorCode), spec.grpc, `${code}: the gRPC ingress answers the registry's status`);
  }
});

t.test("the registry's gRPC numbers are the protocol's", async (t) => {
  for (const [name, value] of Object.entries(Grpc)) {
    t.equal(value, GrpcStatus[name as keyof typeof GrpcStatus], name);
  }
});

t.test('refusals name registry codes and say why', async (t) => {
  for (const [reason, r] of Object.entries(REFUSALS)) {
    t.ok(r.code in ERRORS, `${reason} → ${r.code}`);
    t.ok(r.detail.length > 0, `${reason} has a detail`);
  }
  for (const [reason, detail] of Object.entries(AUTH_DETAIL)) t.ok(detail.length > 0, `${reason} has a detail`);
});

t.test('the README status table lists every public code with its status and message', async (t) => {
  const rows = new Map<string, { status: number; message: string }>();
  for (const m of readme.matchAll(/^\| `(COLLECTOR_ERR_[A-Z0-9_]+)` \| (\d{3}) \| (.*) \|$/gm)) {
    rows.set(m[1]!, { status: Number(m[2]), message: m[3]! });
  }
  for (const [code, spec] of Object.entries(ERRORS)) {
    const row = rows.get(code);
    t.ok(row, `${code} is in the README table`);
    if (!row) continue;
    t.equal(row.status, spec.status, `${code}: README status`);
    t.equal(row.message, spec.message, `${code}: README message`);
  }
  for (const code of rows.keys()) t.ok(code in ERRORS, `README row ${code} is in the registry`);
});

t.test('the gRPC status table (docs/grpc.md) names every gRPC status the registry uses', async (t) => {
  const grpcDoc = readFileSync(new URL('../../docs/grpc.md', import.meta.url), 'utf8');
  const section = grpcDoc.slice(grpcDoc.indexOf('### gRPC status codes'));
  const next = section.indexOf('\n## ', 1);
  const table = next < 0 ? section : section.slice(0, next);
  t.ok(table.length > 100, 'the table is there');
  for (const spec of Object.values(ERRORS)) {
    const name = Object.entries(Grpc).find(([, v]) => v === spec.grpc)![0];
    t.match(table, `\`${name}\``, `${name} is in the gRPC status table`);
  }
});

t.test('internal codes share the prefix, are not public codes, and every internal error carries its code', async (t) => {
  for (const code of [...Object.keys(INTERNAL_ERRORS), ...Object.keys(SPILL_ERRORS)]) {
    t.match(code, /^COLLECTOR_ERR_[A-Z0-9_]+$/, `${code} has the prefix`);
    t.notOk(code in ERRORS, `${code} is not a public code`);
  }
  const cases: [InternalError, string, string][] = [
    [new ConfigError('KAFKA_BROKERS is empty'), 'COLLECTOR_ERR_CONFIG', 'ConfigError'],
    [new KeysFileError('keys[0].id is missing'), 'COLLECTOR_ERR_KEYS_FILE', 'KeysFileError'],
    [new QuotaFileError('quotas must be an object'), 'COLLECTOR_ERR_QUOTA_FILE', 'QuotaFileError'],
    [new DedupUnavailableError('no addon'), 'COLLECTOR_ERR_DEDUP_UNAVAILABLE', 'DedupUnavailableError'],
  ];
  for (const [err, code, name] of cases) {
    t.ok(err instanceof InternalError, `${name} is an InternalError`);
    t.equal(err.code, code, `${name} carries ${code}`);
    t.equal(err.name, name, `${name} keeps its name`);
  }
  t.equal(new ConfigError('KAFKA_BROKERS is empty').message, 'KAFKA_BROKERS is empty', 'the message is the detail, unchanged');
});
