/** The CORS policy read from the configuration: exact origins, `*` never with credentials. */
import t from 'tap';
import { corsPolicy } from '../../src/acceptor/cors.js';
import { loadConfig } from '../../src/config/load.js';

t.test('off by default', async (t) => {
  t.equal(corsPolicy(loadConfig({})), null);
});

t.test('exact origins: scheme, host and port all count', async (t) => {
  const p = corsPolicy(loadConfig({ CORS_ALLOWED_ORIGINS: 'https://a.example, http://b.example:8080' }))!;
  t.ok(p.allows('https://a.example'));
  t.ok(p.allows('http://b.example:8080'));
  t.notOk(p.allows('http://a.example'));
  t.notOk(p.allows('https://a.example:443x'));
  t.notOk(p.allows('https://sub.a.example'));
  t.notOk(p.allows('null'), 'a sandboxed page or a file: URL is not an allowed origin');
  t.notOk(p.allows(''));
});

t.test('* allows any origin, and is refused at start with credentials', async (t) => {
  t.ok(corsPolicy(loadConfig({ CORS_ALLOWED_ORIGINS: '*' }))!.allows('https://anything.example'));
  t.throws(() => loadConfig({ CORS_ALLOWED_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true' }), /CORS_ALLOWED_ORIGINS=\*/);
  t.throws(() => loadConfig({ CORS_ALLOWED_ORIGINS: 'https://a.example/' }), /origin/, 'an origin has no path');
  t.throws(() => loadConfig({ CORS_ALLOWED_ORIGINS: 'a.example' }), /origin/, 'an origin has a scheme');
});
