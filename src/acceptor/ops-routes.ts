/**
 * Operator routes (GET only): health, the spec's JSON metrics, Prometheus text, probes,
 * the API description and the pages (Swagger UI, dashboard). Kept apart from the
 * collect path so that what operators read can grow without touching the hot path.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { errorBody, ERRORS } from '../errors.js';
import { exchange, reply, replyJson, sendError } from './reply.js';

type Json = { status: number; body: unknown };

/** A fixed GET resource (page, script, document). */
export interface OpsPage {
  contentType: string;
  body: () => string | Buffer;
  /** Cache-Control; `no-store` when absent */
  cache?: string;
}

export interface OpsDeps {
  health: () => Json | Promise<Json>;
  metrics: () => Promise<unknown>;
  prometheus: () => Promise<{ contentType: string; body: string }>;
  /** whether a request's Authorization header may read /metrics; absent: anyone may (no METRICS_TOKEN) */
  prometheusAuthorized?: ((authorization: string) => boolean) | null;
  /** GET /livez */
  livez?: () => Json;
  /** GET /readyz */
  readyz?: () => Json;
  /** GET /api/v1/schemas: the payload schemas in force */
  schemas?: () => Promise<unknown>;
  /** more GET resources by exact path */
  pages?: Record<string, OpsPage>;
}

/** Registers the GET routes and returns their paths (for 405 answers on other methods). */
export function registerOpsRoutes(app: TemplatedApp, deps: OpsDeps): string[] {
  const paths: string[] = [];
  const get = (path: string, handler: (res: HttpResponse, req: HttpRequest) => void) => {
    app.get(path, handler);
    paths.push(path);
  };

  get('/api/v1/health', (res: HttpResponse) => {
    const ex = exchange(res);
    let h: Json | Promise<Json>;
    try {
      h = deps.health();
    } catch (err) {
      return void sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message);
    }
    // Answered before the handler returns when it can be: uWS then answers pipelined requests too.
    if (!(h instanceof Promise)) return void replyJson(ex, h.status, h.body);
    h.then(
      (v) => replyJson(ex, v.status, v.body),
      (err: unknown) => sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message),
    );
  });

  get('/api/v1/metrics', (res: HttpResponse) => {
    const ex = exchange(res);
    deps.metrics().then(
      (m) => replyJson(ex, 200, m),
      (err: unknown) => sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message),
    );
  });

  get('/metrics', (res: HttpResponse, req: HttpRequest) => {
    const ex = exchange(res);
    if (deps.prometheusAuthorized && !deps.prometheusAuthorized(req.getHeader('authorization'))) {
      return void replyJson(ex, ERRORS.COLLECTOR_ERR_METRICS_UNAUTHENTICATED.status, errorBody('COLLECTOR_ERR_METRICS_UNAUTHENTICATED'), {
        headers: { 'WWW-Authenticate': 'Bearer realm="event-collector metrics"' },
      });
    }
    deps.prometheus().then(
      (p) => reply(ex, 200, p.body, { contentType: p.contentType }),
      (err: unknown) => sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message),
    );
  });

  if (deps.schemas) {
    const schemas = deps.schemas;
    get('/api/v1/schemas', (res: HttpResponse) => {
      const ex = exchange(res);
      schemas().then(
        (doc) => replyJson(ex, 200, doc, { headers: { 'Cache-Control': 'no-store' } }),
        (err: unknown) => sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message),
      );
    });
  }

  for (const [path, probe] of [['/livez', deps.livez], ['/readyz', deps.readyz]] as const) {
    if (!probe) continue;
    get(path, (res: HttpResponse) => {
      const ex = exchange(res);
      const p = probe();
      replyJson(ex, p.status, p.body, { headers: { 'Cache-Control': 'no-store' } });
    });
  }

  for (const [path, page] of Object.entries(deps.pages ?? {})) {
    get(path, (res: HttpResponse) => {
      const ex = exchange(res);
      let body: string | Buffer;
      try {
        body = page.body();
      } catch (err) {
        return void sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message);
      }
      reply(ex, 200, body, {
        contentType: page.contentType,
        headers: { 'Cache-Control': page.cache ?? 'no-store', 'X-Content-Type-Options': 'nosniff' },
      });
    });
  }

  return paths;
}
