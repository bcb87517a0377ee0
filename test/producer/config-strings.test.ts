/**
 * KAFKA_CONFIG_JSON values reach librdkafka whole: the C producer read each value into an
 * 8 KiB buffer, so a longer one (a PEM bundle in ssl.ca.pem, a JAAS line) or one whose last
 * multi-byte character straddled the end was cut silently. Read back from librdkafka itself.
 */
import t from 'tap';
import { confPairs, loadNativeProducer } from '../../src/producer/native.js';

const native = loadNativeProducer();

const create = (extra: Record<string, string>) =>
  native.create(confPairs({ 'bootstrap.servers': '127.0.0.1:1', ...extra }), confPairs({}), () => {});

t.test('global property values of any UTF-8 length are kept whole', async (t) => {
  for (const value of [
    `${'x'.repeat(8190)}é`, // the multi-byte character across the old 8192-byte boundary
    'é'.repeat(4096), // 8192 bytes
    'collector-€'.repeat(2000), // 26 KB
    '😀'.repeat(100),
  ]) {
    const h = create({ 'client.id': value });
    t.teardown(() => native.close(h));
    const got = native.configValue(h, 'client.id');
    t.equal(got?.length, value.length, `${Buffer.byteLength(value)} bytes: the whole value`);
    t.equal(got, value);
  }
});

t.test('a NUL inside a value is refused, not cut', async (t) => {
  t.throws(() => create({ 'client.id': 'before\u0000after' }), /NUL/);
});
