import t from 'tap';
import { contentTypeProblem, encodingOf } from '../../src/acceptor/headers.js';

t.test('encodings', async (t) => {
  t.equal(encodingOf(''), 'identity');
  t.equal(encodingOf('GZIP'), 'gzip');
  t.equal(encodingOf('x-gzip'), 'gzip');
  t.equal(encodingOf('br'), null);
  t.equal(encodingOf('deflate'), null);
});

t.test('content types', async (t) => {
  t.equal(contentTypeProblem('application/json'), null);
  t.equal(contentTypeProblem('application/json; charset=utf-8'), null);
  t.equal(contentTypeProblem('application/vnd.learner+json'), null);
  t.match(contentTypeProblem(''), /missing/);
  t.match(contentTypeProblem('text/plain'), /text\/plain/);
  t.match(contentTypeProblem('application/x-www-form-urlencoded'), /form/);
});
