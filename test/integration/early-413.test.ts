/**
 * An early 413 must reach the client as a 413, not as a connection reset. The collector
 * answers a body declared too large before reading it; closing the socket right after the
 * answer, with the client's bytes still arriving, makes the kernel send a reset that can
 * destroy the answer before the client read it (seen with Node's fetch sending 60 MB). The
 * answer is now complete and says `Connection: close`, and the collector keeps reading and
 * discarding the declared body (lingering close) so the client closes first.
 */
import t from 'tap';
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-413-${randomUUID().slice(0, 8)}`;
let c: RunningCollector;

t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 1 },
    { name: `${TOPIC}-dlq`, partitions: 1 },
  ]);
  c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: `${TOPIC}-dlq` });
  await waitHealthy(c.url, 60_000);
});
t.teardown(() => c?.stop());

t.test("Node's fetch sending 60 MB reads the 413 every time", async (t) => {
  const body = Buffer.alloc(60 << 20, 0x20);
  const outcomes: string[] = [];
  for (let i = 0; i < 8; i++) {
    try {
      const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const answer = (await r.json()) as { error?: { code?: string } };
      outcomes.push(`${r.status} ${answer.error?.code ?? JSON.stringify(answer)}`);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      outcomes.push(`${e.message}: ${e.cause?.code ?? e.cause?.message ?? ''}`);
    }
  }
  t.same(outcomes, outcomes.map(() => '413 COLLECTOR_ERR_BODY_TOO_LARGE'), outcomes.join('; '));
  // The collector still serves, on fresh connections.
  const ok = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(syntheticBatch(2)), headers: { 'content-type': 'application/json' } });
  t.equal(ok.status, 200);
});

t.test('a client that keeps sending after the 413 gets the answer, then the connection ends', async (t) => {
  // node:http writes the whole declared body, whatever the answer: the worst case for a reset.
  const result = await new Promise<{ status: number; connection: string; text: string }>((resolve, reject) => {
    const req = request(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(8 << 20) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: String(res.headers.connection), text }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 << 10, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < 8 << 20) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  t.equal(result.status, 413);
  t.equal(result.connection, 'close', 'the answer says the connection closes');
  t.match(result.text, /COLLECTOR_ERR_BODY_TOO_LARGE/);
});
