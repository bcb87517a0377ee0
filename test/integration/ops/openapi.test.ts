/**
 * The OpenAPI document: the committed docs/api/rest/event-collector.yaml is exactly what
 * src/ops/openapi.ts generates from the schemas and the error registry, it is a sound
 * OpenAPI 3.1 document, and the collector serves it (and Swagger UI and ReDoc, offline).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { buildOpenApi, openApiYaml, openapiFile, OPENAPI_PATH, toYaml } from '../../../src/ops/openapi.js';
import { ERRORS } from '../../../src/errors.js';
import { EventSchema } from '../../../src/schema/event.js';
import { startCollector, type RunningCollector } from '../../helpers/collector.js';
import { sharedBroker } from '../../helpers/broker.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
};

t.test('the committed document is the generated one', async (t) => {
  const committed = readFileSync(openapiFile(), 'utf8');
  t.equal(committed, openApiYaml(), `stale ${OPENAPI_PATH}: regenerate with node dist/src/ops/openapi.js --write`);
});

t.test('the YAML parses back to the document', async (t) => {
  t.same(yaml.load(openApiYaml()), JSON.parse(JSON.stringify(buildOpenApi())));
  // The emitter's awkward cases.
  const tricky = { a: ['', 'yes', '1.5', '#x', 'a: b', 'x #y', ' lead', 'trail ', 'é — ≥', 'line\nbreak', '"q"', "it's"], '200': { '': null, 'b c': [[1, 2], [], {}], d: true } };
  t.same(yaml.load(toYaml(tricky)), tricky);
});

t.test('a sound OpenAPI 3.1 document built from the sources', async (t) => {
  const doc = yaml.load(openApiYaml()) as Doc;
  t.equal(doc.openapi, '3.1.0');
  // Every $ref resolves.
  const refs = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') refs.add(x);
        walk(x);
      }
    }
  };
  walk(doc);
  for (const r of refs) {
    const name = r.replace('#/components/schemas/', '');
    t.ok(r.startsWith('#/components/schemas/') && doc.components.schemas[name], `$ref ${r} resolves`);
  }
  // The event schema is the validator's.
  t.same(Object.keys(doc.components.schemas.Event!.properties!), Object.keys(EventSchema.properties));
  t.same(doc.components.schemas.Event!.required, EventSchema.required);
  // Every error code of the registry is documented, under its status.
  const text = openApiYaml();
  for (const code of Object.keys(ERRORS)) {
    t.ok(text.includes(code), `${code} is documented`);
  }
  const collect = doc.paths['/api/v1/collect']!.post!.responses;
  for (const status of ['200', '207', '422', '400', '413', '415', '503', '500']) t.ok(collect[status], `collect documents ${status}`);
  t.match(collect['400']!.description, /COLLECTOR_ERR_INVALID_JSON/);
  t.match(collect['503']!.description, /COLLECTOR_ERR_BUFFER_FULL/);
  // Status codes are strings, every response has a description.
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const [status, res] of Object.entries(op.responses)) {
        t.ok(/^[1-5]\d\d$/.test(status) && typeof res.description === 'string' && res.description.length > 0, `${method} ${path} ${status}`);
      }
    }
  }
  // Writes may carry an API key (AUTH_MODE=api_key), as a bearer token or x-api-key; optional under AUTH_MODE=none.
  const schemes = (doc.components as unknown as { securitySchemes: Record<string, { type: string; scheme?: string; name?: string }> }).securitySchemes;
  t.match(schemes.bearerKey, { type: 'http', scheme: 'bearer' });
  t.match(schemes.apiKeyHeader, { type: 'apiKey', name: 'x-api-key' });
  for (const p of ['/api/v1/collect', '/api/v1/test/events']) {
    const op = doc.paths[p]!.post as unknown as { security: Record<string, unknown>[]; responses: Record<string, { description: string }> };
    t.same(op.security, [{}, { bearerKey: [] }, { apiKeyHeader: [] }], `${p} accepts either key`);
    t.match(op.responses['401']!.description, /COLLECTOR_ERR_UNAUTHENTICATED/);
    t.match(op.responses['429']!.description, /COLLECTOR_ERR_TENANT_QUOTA/);
  }
  for (const p of ['/api/v1/health', '/api/v1/metrics', '/metrics', '/livez', '/readyz', '/openapi.yaml', '/docs', '/redoc', '/dashboard', '/api/v1/test/events']) {
    t.ok(doc.paths[p], `documents ${p}`);
  }
});

t.test('served by the collector: /openapi.yaml and Swagger UI with no external assets', async (t) => {
  let c: RunningCollector | undefined;
  try {
    c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: sharedBroker().bootstrap });
    const y = await fetch(`${c.url}/openapi.yaml`);
    t.equal(y.status, 200);
    t.match(y.headers.get('content-type'), /yaml/);
    t.equal(await y.text(), openApiYaml());

    const page = await fetch(`${c.url}/docs`);
    t.equal(page.status, 200);
    const html = await page.text();
    t.match(html, /swagger-ui/);
    const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((s) => !s.startsWith('data:'));
    t.ok(srcs.length >= 4);
    for (const s of srcs) {
      t.ok(s.startsWith('/'), `${s} is served locally`);
      const r = await fetch(`${c.url}${s}`);
      t.equal(r.status, 200, `${s} 200`);
      t.ok((await r.arrayBuffer()).byteLength > 0);
    }
    const init = await (await fetch(`${c.url}/docs/init.js`)).text();
    t.match(init, /validatorUrl: null/, 'no call to validator.swagger.io');
    t.match(init, /\/openapi\.yaml/);
  } finally {
    await c?.stop();
  }
});

t.test('served by the collector: ReDoc at /redoc from the redoc package, with no external assets', async (t) => {
  let c: RunningCollector | undefined;
  try {
    c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: sharedBroker().bootstrap });
    const page = await fetch(`${c.url}/redoc`);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /^text\/html/);
    t.equal(page.headers.get('cache-control'), 'no-store');
    const html = await page.text();
    t.equal(await (await fetch(`${c.url}/redoc/`)).text(), html, '/redoc/ is the same page');
    const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((s) => !s.startsWith('data:'));
    t.same(srcs, ['/redoc/redoc.standalone.js', '/redoc/init.js'], 'only local scripts');

    const bundle = await fetch(`${c.url}/redoc/redoc.standalone.js`);
    t.equal(bundle.status, 200);
    t.match(bundle.headers.get('content-type'), /^text\/javascript/);
    t.equal(bundle.headers.get('cache-control'), 'public, max-age=3600');
    t.equal(bundle.headers.get('x-content-type-options'), 'nosniff');
    const js = await bundle.text();
    t.ok(js.length > 500_000, `the standalone bundle (${js.length} bytes)`);
    t.match(js, /Redoc/);
    t.notMatch(js, /cdn\.redoc\.ly/, 'the footer logo no longer comes from the CDN');

    const init = await fetch(`${c.url}/redoc/init.js`);
    t.equal(init.status, 200);
    t.match(init.headers.get('content-type'), /^text\/javascript/);
    t.match(await init.text(), /Redoc\.init\('\/openapi\.yaml'/, 'the document /docs uses too');

    const map = await fetch(`${c.url}/redoc/redoc.standalone.js.map`);
    t.equal(map.status, 200);
    t.match(map.headers.get('content-type'), /^application\/json/);
    await map.arrayBuffer();

    const post = await fetch(`${c.url}/redoc`, { method: 'POST' });
    t.equal(post.status, 405, 'a known route: other methods answer 405');
    t.equal(post.headers.get('allow'), 'GET');
    t.match(((await post.json()) as { error: { code: string } }).error.code, 'COLLECTOR_ERR_METHOD_NOT_ALLOWED');
  } finally {
    await c?.stop();
  }
});
