import t from 'tap';
import { answerJson, batchAnswer, type CollectBody } from '../../src/pipeline/answer.js';
import { errorBody } from '../../src/errors.js';

/** Every answer shape the collector builds: the template must give JSON.stringify's text, byte for byte. */
t.test('answerJson is JSON.stringify, byte for byte, for every shape (lists, errors, odd numbers, odd ids)', async (t) => {
  const shapes: unknown[] = [];
  const ids = ['b-1', 'with "quotes" and \\ and \u2028 and é', ''];
  for (const id of ids) {
    for (const partitions of [[], [2], [0, 1, 2]]) {
      for (const ms of [0, 1.25, 123456.78, Number.NaN, Number.POSITIVE_INFINITY]) {
        const plain = batchAnswer(id, 1, [], partitions, [], ms).body as CollectBody;
        shapes.push({ ...plain });
        shapes.push({ ...plain, buffered: false, duplicate_count: 0, duplicates: [] });
        shapes.push({ ...plain, buffered: true, duplicate_count: 0, duplicates: [] });
        shapes.push({ ...plain, buffered: false, duplicate_count: 1, duplicates: [{ index: 0, event_id: 'e' }] });
        shapes.push({ ...plain, warnings: ['w'], buffered: false, duplicate_count: 0, duplicates: [] });
        shapes.push({ ...plain, buffered: false }); // partial additions: stringify's own order
      }
    }
    const rejected = batchAnswer(id, 1, [{ index: 3, event_id: 'x', error: 'bad', code: 'C' } as never], [1], [], 2).body;
    shapes.push({ ...rejected, buffered: false, duplicate_count: 0, duplicates: [] });
    shapes.push(batchAnswer(id, 0, [{ index: 0, event_id: 'x', error: 'bad', code: 'C' } as never], [], [], 2).body);
  }
  shapes.push(errorBody('COLLECTOR_ERR_INVALID_JSON', 'nope', 'b'));
  shapes.push(errorBody('COLLECTOR_ERR_OVERLOADED'));
  let n = 0;
  for (const body of shapes) {
    const got = answerJson(body as CollectBody);
    if (got !== JSON.stringify(body)) t.fail(`differs for ${JSON.stringify(body)}:\n${got}`);
    else n++;
  }
  t.equal(n, shapes.length, `${n} shapes identical`);
});
