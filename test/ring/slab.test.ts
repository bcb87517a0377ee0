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

t.test('the lowest free slot is taken: a few in flight at a time reuse the same few slots (their pages)', async (t) => {
  const slab = new Slab({ slots: 64, slotBytes: 8 });
  const used = new Set<number>();
  for (let round = 0; round < 1000; round++) {
    const a = slab.take()!;
    const b = slab.take()!;
    used.add(a.slot).add(b.slot);
    slab.release(b.slot, b.token);
    slab.release(a.slot, a.token);
  }
  t.same([...used].sort(), [0, 1], 'two slots in flight → slots 0 and 1 only');
  const held = [slab.take()!, slab.take()!, slab.take()!];
  slab.release(held[1]!.slot, held[1]!.token);
  t.equal(slab.take()!.slot, 1, 'a hole is filled first');
});

t.test('shape mismatch is refused', async (t) => {
  const slab = new Slab({ slots: 2, slotBytes: 8 });
  t.throws(() => new Slab({ slots: 3, slotBytes: 8 }, slab.sab), RangeError);
});
