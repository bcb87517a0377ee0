// Regression: a cluster id beginning with '-' made `kafka-storage format -t <id>` fail (1 broker start in 64).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { newClusterId } from '../../kafka/cluster-id.js';

t.test('an id that would begin with "-" is drawn again', async (t) => {
  const dash = Buffer.alloc(16, 0xfb); // 111110.. → base64url '-' first
  t.ok(dash.toString('base64url').startsWith('-'), 'the fixture really begins with "-"');
  const ok = Buffer.alloc(16, 0x41);
  const draws = [dash, dash, ok];
  t.equal(newClusterId(() => draws.shift()!), ok.toString('base64url'));
  t.equal(draws.length, 0, 'it drew three times');
});

t.test("Kafka's reserved ids (zero, metadata topic) are drawn again", async (t) => {
  const zero = Buffer.alloc(16);
  const meta = Buffer.alloc(16); meta[15] = 1;
  const ok = randomBytes(16); ok[0] = 0x10;
  const draws = [zero, meta, ok];
  t.equal(newClusterId(() => draws.shift()!), ok.toString('base64url'));
});

t.test('100,000 draws: 22 URL-safe base64 characters, none begins with "-"', async (t) => {
  let dashes = 0;
  let bad = 0;
  for (let i = 0; i < 100_000; i++) {
    const id = newClusterId();
    if (id.startsWith('-')) dashes++;
    if (!/^[A-Za-z0-9_-]{22}$/.test(id)) bad++;
  }
  t.equal(dashes, 0);
  t.equal(bad, 0);
});
