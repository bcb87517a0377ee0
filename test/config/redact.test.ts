/**
 * maskUrlCredentials: the one way a URL's user-info is kept out of what the collector writes.
 * Every form a setting or an error may carry it in, and text that only looks like it left alone.
 */
import t from 'tap';
import { maskedError, maskUrlCredentials } from '../../src/config/redact.js';

t.test('user-info is masked wherever a URL carries it', async (t) => {
  const cases: [string, string][] = [
    ['http://user:pw@registry:8081/apis', 'http://***@registry:8081/apis'],
    ['https://user@registry', 'https://***@registry'],
    ['https://svc:p@ss@registry/x', 'https://***@registry/x'], // a raw @ in the password: up to the last one
    ['https://svc:p%40ss@registry', 'https://***@registry'],
    ['SCHEMA_REGISTRY_URL is not an http(s) URL: "ftp://a:b@h"', 'SCHEMA_REGISTRY_URL is not an http(s) URL: "ftp://***@h"'],
    ['{"u":"http://a:b@h/","v":"mail@example"}', '{"u":"http://***@h/","v":"mail@example"}'],
    ['svc:hunter2@registry:8081', '***@registry:8081'],
    ['fetch to "svc:hunter2@registry:8081" failed', 'fetch to "***@registry:8081" failed'],
    ['two: http://a:b@x and https://c:d@y', 'two: http://***@x and https://***@y'],
  ];
  for (const [given, shown] of cases) t.equal(maskUrlCredentials(given), shown, given);
});

t.test('text without user-info is left as it is', async (t) => {
  for (const s of ['http://registry:8081/apis/ccompat/v7', 'connect ECONNREFUSED 127.0.0.1:8081', 'ops@example.com', 'a: b@c', 'http://[::1]:8081/x?q=a@b', '']) {
    t.equal(maskUrlCredentials(s), s, s);
  }
});

t.test('an error is masked in its message and its stack', async (t) => {
  const err = new Error('GET http://svc:hunter2@registry/subjects failed');
  const shown = maskedError({ type: 'Error', message: err.message, stack: err.stack });
  t.equal(shown.message, 'GET http://***@registry/subjects failed');
  t.notMatch(shown.stack, 'hunter2');
  t.equal(shown.type, 'Error');
});
