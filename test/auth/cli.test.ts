/** `npm run keys`: add prints the key once and stores only its digest; revoke; list; quota. */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Keyring } from '../../src/auth/keyring.js';
import { quotasOfFileText } from '../../src/quota/policy.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/auth/cli.js', import.meta.url));
const keys = (file: string, ...args: string[]) => run(process.execPath, [CLI, '--file', file, ...args]);

t.test('add, list, revoke, quota', async (t) => {
  const file = join(mkdtempSync(join(os.tmpdir(), 'keys-')), 'api-keys.json');
  const added = await keys(file, 'add', '--tenant', 'tenant-a', '--tenant', 'tenant-b', '--description', 'web app');
  const key = added.stdout.trim();
  t.match(key, /^evc_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/, 'stdout is the key alone');
  const text = readFileSync(file, 'utf8');
  t.notOk(text.includes(key), 'the file does not hold the key');
  t.notOk(text.includes(key.slice(-43)), 'nor its secret part');
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only');
  const ring = Keyring.fromText(text);
  const v = ring.verify(key);
  t.ok(v.ok && v.principal.tenants?.join() === 'tenant-a,tenant-b');
  const id = key.split('_')[1]!;

  const list = await keys(file, 'list');
  t.match(list.stdout, new RegExp(`^${id}\\ttenant-a,tenant-b\\t.*\\tactive\\tweb app$`, 'm'));
  t.notOk(list.stdout.includes(key.slice(-43)));

  await keys(file, 'revoke', id);
  t.same(Keyring.fromText(readFileSync(file, 'utf8')).verify(key), { ok: false, reason: 'revoked' });
  t.match((await keys(file, 'list')).stdout, /\trevoked /);

  await keys(file, 'quota', 'tenant-a', '--events-per-second', '500', '--bytes-per-second', '100000');
  const q = quotasOfFileText(readFileSync(file, 'utf8'), file);
  t.same(q.get('tenant-a'), { eventsPerSecond: 500, bytesPerSecond: 100000, burstSeconds: 1 });
  await t.rejects(keys(file, 'quota', 'tenant-a', '--events-per-second', '-3'), 'a negative quota is refused');
  await t.rejects(keys(file, 'revoke', 'nosuchkey'));
  await t.rejects(keys(file, 'add'), 'add without a tenant is refused');
});
