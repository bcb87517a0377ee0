import t from 'tap';
import { Slab } from '../../src/ring/slab.js';

t.test('full slab refuses; release frees', async (t) => {
  const slab = new Slab({ slots: 2, slotBytes: 16 });
  const a = slab.take();
  const b = slab.take();
  t.ok(a && b);
  t.equal(slab.take(), null, 'no third slot');
  t.equal(slab.inUse(), 2);
  t.ok(slab.release(a!.slot, a!.token));
  t.equal(slab.inUse(), 1);
  t.ok(slab.take(), 'a freed slot is taken again');
});

t.test('a stale release cannot free a re-taken slot', async (t) => {
  const slab = new Slab({ slots: 1, slotBytes: 8 });
  const first = slab.take()!;
  t.ok(slab.release(first.slot, first.token), 'worker frees it');
  const second = slab.take()!;
  t.equal(second.slot, first.slot);
  t.notOk(slab.release(first.slot, first.token), 'late release of the old token does nothing');
  t.equal(slab.inUse(), 1);
});

t.test('bytes written on one side are seen through another view of the same memory', async (t) => {
  const slab = new Slab({ slots: 3, slotBytes: 8 });
  const other = new Slab({ slots: 3, slotBytes: 8 }, slab.sab);
  const h = slab.take()!;
  slab.write(h.slot, 0, Buffer.from('abc'));
  slab.write(h.slot, 3, Buffer.from('def'));
  t.equal(other.view(h.slot, 6).toString(), 'abcdef');
  t.ok(other.release(h.slot, h.token), 'a worker-side view can release');
  t.equal(slab.inUse(), 0);
});

t.test('shape mismatch is refused', async (t) => {
  const slab = new Slab({ slots: 2, slotBytes: 8 });
  t.throws(() => new Slab({ slots: 3, slotBytes: 8 }, slab.sab), RangeError);
});
