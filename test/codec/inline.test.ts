import t from 'tap';
import { gzipSync } from 'node:zlib';
import { decodeInline } from '../../src/codec/inline.js';
import { loadConfig } from '../../src/config/load.js';
import { Slab } from '../../src/ring/slab.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const config = loadConfig({ INLINE_DECODE_MAX_BYTES: '65536' });
const slab = new Slab({ slots: 4, slotBytes: 1 << 20 });

function run(body: Buffer, gzip: boolean, cfg = config) {
  const held = slab.take()!;
  slab.write(held.slot, 0, body);
  try {
    return decodeInline({ slot: held.slot, token: held.token, length: body.length, gzip, receivedAt: Date.now() }, slab, cfg, 'test/0');
  } finally {
    slab.release(held.slot, held.token);
  }
}

t.test('small plain and gzip bodies are decoded here; large ones go to a worker', async (t) => {
  const small = Buffer.from(JSON.stringify(syntheticBatch(100)));
  const large = Buffer.from(JSON.stringify(syntheticBatch(200)));
  t.ok(small.length < 65536 && large.length > 65536);
  t.equal(run(small, false)?.ok && (run(small, false) as { batch: { accepted: { count: number } } }).batch.accepted.count, 100);
  t.equal(run(large, false), null, 'plain over the cap: worker');
  const gz = run(gzipSync(small), true);
  t.ok(gz?.ok, 'gzip whose trailer says ≤ cap: here');
  t.equal(run(gzipSync(large), true), null, 'gzip whose trailer says > cap: worker');
  t.equal(run(small, false, { ...config, INLINE_DECODE_MAX_BYTES: 0 }), null, '0: always a worker');
});

t.test('a gzip trailer that lies: stopped at the cap, left to the worker', async (t) => {
  const big = gzipSync(Buffer.from(JSON.stringify(syntheticBatch(400))));
  big.writeUInt32LE(100, big.length - 4); // claims 100 bytes
  t.equal(run(big, true), null);
  const corrupt = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4]);
  const o = run(corrupt, true);
  t.equal(o && !o.ok && o.code, 'COLLECTOR_ERR_CORRUPT_GZIP', 'corrupt gzip is answered here as the worker would');
});
