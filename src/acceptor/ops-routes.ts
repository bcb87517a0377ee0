/**
 * Operator routes (GET only): health, the spec's JSON metrics, Prometheus text.
 * Kept apart from the collect path so that what operators read can grow without
 * touching the hot path.
 */
import type { HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { exchange, reply, replyJson, sendError } from './reply.js';

export interface OpsDeps {
  health: () => { status: number; body: unknown };
  metrics: () => Promise<unknown>;
  prometheus: () => Promise<{ contentType: string; body: string }>;
}

/** Registers the GET routes and returns their paths (for 405 answers on other methods). */
export function registerOpsRoutes(app: TemplatedApp, deps: OpsDeps): string[] {
  app.get('/api/v1/health', (res: HttpResponse) => {
    const ex = exchange(res);
    const h = deps.health();
    replyJson(ex, h.status, h.body);
  });

  app.get('/api/v1/metrics', (res: HttpResponse) => {
    const ex = exchange(res);
    deps.metrics().then(
      (m) => replyJson(ex, 200, m),
      (err: unknown) => sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message),
    );
  });

  app.get('/metrics', (res: HttpResponse) => {
    const ex = exchange(res);
    deps.prometheus().then(
      (p) => reply(ex, 200, p.body, { contentType: p.contentType }),
      (err: unknown) => sendError(ex, 'COLLECTOR_ERR_INTERNAL', (err as Error).message),
    );
  });

  return ['/api/v1/health', '/api/v1/metrics', '/metrics'];
}
