/**
 * The Python client (clients/python) through pytest, against collectors its tests start and
 * kill on the broker of this run; every event a test expects delivered is then read back from
 * Kafka here: 0 lost, in order per learner, and nothing written twice but the batch in flight at a SIGKILL.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { readUntilIds } from '../../helpers/consumer.js';
import { deliveryReport } from '../../clients/delivery.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../../src/main.js', import.meta.url));

t.test('pytest: restarted collector, 207, close() drains, 429 Retry-After; every expected event in Kafka once', async (t) => {
  const { bootstrap } = sharedBroker();
  const suffix = randomUUID().slice(0, 8);
  const topic = `events-python-${suffix}`;
  const dlq = `events-dlq-python-${suffix}`;
  await createTopics([{ name: topic, partitions: 3 }, { name: dlq, partitions: 1 }]);
  const expect = join(mkdtempSync(join(os.tmpdir(), 'pyclient-')), 'expect.jsonl');
  writeFileSync(expect, '');
  const run = spawnSync('python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'clients/python/tests'], {
    cwd: REPO,
    env: {
      ...process.env, PYTHONPATH: join(REPO, 'clients/python'), PYTHONDONTWRITEBYTECODE: '1',
      EVENT_COLLECTOR_MAIN: MAIN, EVENT_COLLECTOR_BOOTSTRAP: bootstrap, EVENT_COLLECTOR_TOPIC: topic, EVENT_COLLECTOR_DLQ: dlq, EVENT_COLLECTOR_EXPECT: expect,
    },
    encoding: 'utf8',
    timeout: 540_000,
  });
  t.equal(run.status, 0, `pytest passed:\n${run.stdout}${run.stderr}`);
  t.notMatch(run.stdout, /skipped/, 'nothing skipped');
  const ids = readFileSync(expect, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as string);
  t.ok(ids.length >= 3500, `${ids.length} events expected in Kafka`);
  const report = deliveryReport(await readUntilIds(bootstrap, topic, ids, 90_000), ids);
  t.same(report.missing, [], '0 lost');
  // A collector SIGKILLed after Kafka acknowledged a batch but before it recorded the claim as done leaves
  // that claim in flight; once its lease lapses the client's retry is written again. At least once, then: at
  // most the one 100-event batch in flight at the kill may be written twice, nothing else.
  t.ok(report.duplicates.length <= 100, `at most the batch in flight at the SIGKILL written twice (${report.duplicates.length})`);
  t.same(report.orderViolations, [], 'in track order per learner');
});
