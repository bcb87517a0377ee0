import t from 'tap';
import { startMallocTrim } from '../../src/lifecycle/malloc-trim.js';
import { loadNativeAddon } from '../../src/native-addon.js';

t.test('0 means never: no timer, stopping is harmless', async (t) => {
  const stop = startMallocTrim(0);
  stop();
  stop();
  t.pass('no timer was started');
});

t.test('the native trim runs and says whether it released memory', async (t) => {
  const { trim } = loadNativeAddon<{ trim(): boolean }>('memory');
  // Free a few MB of malloc'd memory first (Buffers over the pool size are malloc'd outside V8's heap).
  let bufs: Buffer[] | null = Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 1));
  t.equal(bufs.length, 64);
  bufs = null;
  t.type(trim(), 'boolean');
  const stop = startMallocTrim(5);
  await new Promise((r) => setTimeout(r, 30));
  stop();
});
