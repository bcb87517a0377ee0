/**
 * The GET pages for people, all served by the collector itself with no external assets
 * (operators' networks often have no internet):
 *   /openapi.yaml  the generated OpenAPI 3.1 document (src/ops/openapi.ts)
 *   /docs          Swagger UI from the swagger-ui-dist package in node_modules
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

function swaggerDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
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

export function opsPages(): Record<string, OpsPage> {
  const asset = (file: string, contentType: string): OpsPage => ({
    contentType,
    body: once(() => readFileSync(join(swaggerDir(), file))),
    cache: 'public, max-age=3600',
  });
  const html = (text: string): OpsPage => ({ contentType: 'text/html; charset=utf-8', body: () => text });
  return {
    '/openapi.yaml': { contentType: 'application/yaml; charset=utf-8', body: openApiYaml },
    '/docs': html(DOCS_HTML),
    '/docs/': html(DOCS_HTML),
    '/docs/init.js': { contentType: 'text/javascript; charset=utf-8', body: () => DOCS_INIT },
    '/docs/swagger-ui.css': asset('swagger-ui.css', 'text/css; charset=utf-8'),
    '/docs/swagger-ui-bundle.js': asset('swagger-ui-bundle.js', 'text/javascript; charset=utf-8'),
    '/docs/swagger-ui-standalone-preset.js': asset('swagger-ui-standalone-preset.js', 'text/javascript; charset=utf-8'),
    '/dashboard': html(DASHBOARD_HTML),
  };
}
