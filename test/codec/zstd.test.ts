import t from 'tap';
import { compress } from 'zstd-napi';
import { decodeBatch } from '../../src/codec/decode.js';
import { zstdDecompress } from '../../src/codec/zstd.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const limits = { maxDecodedBytes: 1 << 20, maxEvents: 1000, maxEventBytes: 65536 };

t.test('a zstd bomb costs the cap: refused as too large, whatever its frame claims', async (t) => {
  const bomb = compress(Buffer.alloc(64 << 20)); // 64 MiB of zeros in a few KiB
  t.ok(bomb.length < 64 * 1024, `${bomb.length} bytes on the wire`);
  const rss0 = process.memoryUsage().rss;
  const o = decodeBatch({ body: bomb, gzip: false, zstd: true, receivedAt: Date.now(), instance: 't', limits });
  t.match(o, { ok: false, code: 'COLLECTOR_ERR_DECODED_TOO_LARGE' });
  t.ok(process.memoryUsage().rss - rss0 < 32 << 20, 'no allocation near the claimed size');
});

t.test('corrupt or truncated zstd: a 400 with its own code, and the next body decodes', async (t) => {
  const good = compress(Buffer.from(JSON.stringify(syntheticBatch(3))));
  t.match(decodeBatch({ body: Buffer.from('not zstd at all'), gzip: false, zstd: true, receivedAt: 0, instance: 't', limits }), { ok: false, code: 'COLLECTOR_ERR_CORRUPT_ZSTD' });
  t.match(decodeBatch({ body: good.subarray(0, good.length - 5), gzip: false, zstd: true, receivedAt: 0, instance: 't', limits }), { ok: false, code: 'COLLECTOR_ERR_CORRUPT_ZSTD' });
  const o = decodeBatch({ body: good, gzip: false, zstd: true, receivedAt: 0, instance: 't', limits });
  t.ok(o.ok && o.batch.accepted.count === 3, 'decodes after a failure');
});

t.test('exactly at the cap decodes; one byte over does not', async (t) => {
  const at = Buffer.alloc(1000, 0x20);
  t.match(zstdDecompress(compress(at), 1000), { ok: true });
  t.match(zstdDecompress(compress(Buffer.alloc(1001, 0x20)), 1000), { ok: false, tooLarge: true });
  const r = zstdDecompress(compress(at), 1000);
  t.ok(r.ok && r.bytes.equals(at));
});
