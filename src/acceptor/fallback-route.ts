/** Every request no route took: a known path with the wrong method gets 405 (with Allow), anything else 404. */
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { errorBody } from '../errors.js';
import { exchange, replyJson } from './reply.js';

/** Registered last: `allowed` maps each routed path to its method. */
export function registerFallbackRoute(app: TemplatedApp, allowed: Readonly<Record<string, string>>): void {
  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    const url = req.getUrl();
    const ex = exchange(res);
    const allow = allowed[url];
    if (allow) {
      replyJson(ex, 405, errorBody('COLLECTOR_ERR_METHOD_NOT_ALLOWED', `${req.getMethod().toUpperCase()} ${url}; use ${allow}`), {
        headers: { Allow: allow },
        close: true,
      });
    } else {
      replyJson(ex, 404, errorBody('COLLECTOR_ERR_NOT_FOUND', url), { close: true });
    }
  });
}
