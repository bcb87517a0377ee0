/**
 * The GET pages for people, all served by the collector itself with no external assets
 * (operators' networks often have no internet):
 *   /openapi.yaml  the generated OpenAPI 3.1 document (src/ops/openapi.ts)
 *   /docs          Swagger UI from the swagger-ui-dist package in node_modules
 *   /redoc         ReDoc from the redoc package's prebuilt standalone bundle (redoc 2.1.5,
 *                  pinned exactly: redoc 3 wants React 19, tap's tree has React 18)
 *   /dashboard     the live dashboard (src/ops/dashboard.ts)
 * Files are read once, on first request, and kept.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OpsPage } from '../acceptor/ops-routes.js';
import { openApiYaml } from './openapi.js';
import { DASHBOARD_HTML } from './dashboard.js';

const once = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= f());
};

const require = createRequire(import.meta.url);

function swaggerDir(): string {
  return dirname(require.resolve('swagger-ui-dist/package.json'));
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Event Collector API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.yaml',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'BaseLayout'
});
`;

// The one automatic request the bundle makes outside the page's origin: the "API docs by
// Redocly" footer loads its logo from this CDN. It is swapped for an inline blank image.
const REDOC_LOGO = '"https://cdn.redoc.ly/redoc/logo-mini.svg"';
const BLANK_SVG = `"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"`;

function redocBundle(): string {
  const js = readFileSync(require.resolve('redoc/bundles/redoc.standalone.js'), 'utf8');
  const parts = js.split(REDOC_LOGO);
  // Pinned version: a different bundle is a reason to look again, not to serve it blindly.
  if (parts.length !== 2) throw new Error(`redoc.standalone.js: expected the logo URL once, found it ${parts.length - 1} times`);
  return parts.join(BLANK_SVG);
}

const REDOC_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Event Collector API — ReDoc</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<div id="redoc"></div>
<script src="/redoc/redoc.standalone.js"></script>
<script src="/redoc/init.js"></script>
</body>
</html>
`;

const REDOC_INIT = `Redoc.init('/openapi.yaml', {}, document.getElementById('redoc'));
`;

const JS = 'text/javascript; charset=utf-8';
const CACHED = 'public, max-age=3600';

export function opsPages(): Record<string, OpsPage> {
  const cached = (contentType: string, read: () => string | Buffer): OpsPage => ({ contentType, body: once(read), cache: CACHED });
  const swagger = (file: string, contentType: string): OpsPage => cached(contentType, () => readFileSync(join(swaggerDir(), file)));
  const html = (text: string): OpsPage => ({ contentType: 'text/html; charset=utf-8', body: () => text });
  const script = (text: string): OpsPage => ({ contentType: JS, body: () => text });
  return {
    '/openapi.yaml': { contentType: 'application/yaml; charset=utf-8', body: openApiYaml },
    '/docs': html(DOCS_HTML),
    '/docs/': html(DOCS_HTML),
    '/docs/init.js': script(DOCS_INIT),
    '/docs/swagger-ui.css': swagger('swagger-ui.css', 'text/css; charset=utf-8'),
    '/docs/swagger-ui-bundle.js': swagger('swagger-ui-bundle.js', JS),
    '/docs/swagger-ui-standalone-preset.js': swagger('swagger-ui-standalone-preset.js', JS),
    '/redoc': html(REDOC_HTML),
    '/redoc/': html(REDOC_HTML),
    '/redoc/init.js': script(REDOC_INIT),
    '/redoc/redoc.standalone.js': cached(JS, redocBundle),
    // The bundle names its source map; served so that browser dev tools find it offline too.
    '/redoc/redoc.standalone.js.map': cached('application/json; charset=utf-8', () => readFileSync(require.resolve('redoc/bundles/redoc.standalone.js.map'))),
    '/dashboard': html(DASHBOARD_HTML),
  };
}
