import t from 'tap';
import { fitting } from '../../src/replay/index.js';
import { isQueueFull } from '../../src/producer/classify.js';

t.test('a replay chunk never takes more events than the producer queue has room for', async (t) => {
  const batches = (n: number, events: number) => Array.from({ length: n }, () => ({ events }));
  t.equal(fitting(batches(256, 1000), 50_000), 50, '256 × 1000-event batches: 50 fit in 50,000');
  t.equal(fitting(batches(256, 100), 50_000), 256, 'small batches: the whole chunk');
  t.equal(fitting(batches(10, 1000), 0), 1, 'no room at all: still one batch, so replay moves (its failure is retried)');
  t.equal(fitting(batches(10, 1000), -5000), 1, 'a queue over budget: one batch');
  t.equal(fitting([], 100), 0);
  t.equal(fitting([{ events: 10 }, { events: 95 }, { events: 1 }], 100), 1, 'stops at the first batch that does not fit: log order is kept');
});

t.test('queue-full is recognised by code and by message', async (t) => {
  t.ok(isQueueFull(-184, ''));
  t.ok(isQueueFull(-1, 'Local: Queue full'));
  t.notOk(isQueueFull(-1, 'Broker: Message size too large'));
  t.notOk(isQueueFull(10, 'too large'));
});
