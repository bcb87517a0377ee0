/**
 * POST /api/v1/test/events?count=N (TEST_ENDPOINTS_ENABLED only): a synthetic batch of N valid events, through
 * admission and the same pipeline as a client's batch. Any body is ignored.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { syntheticBatch } from '../pipeline/synthetic.js';
import { exchange, sendError, sendUnauthenticated } from './reply.js';
import type { RouteContext } from './route-context.js';
import { runBatch } from './run-batch.js';

export const TEST_EVENTS_PATH = '/api/v1/test/events';

export function registerTestEventsRoute(app: TemplatedApp, ctx: RouteContext): void {
  const { config, slab, telemetry, admission } = ctx;
  app.post(TEST_EVENTS_PATH, (res: HttpResponse, req: HttpRequest) => {
    const startedAt = performance.now();
    const countParam = req.getQuery('count');
    const verdict = ctx.authenticate(req);
    const ex = exchange(res);
    res.onData(() => {}); // any body is ignored
    if (!config.TEST_ENDPOINTS_ENABLED) return void sendError(ex, 'COLLECTOR_ERR_TEST_ENDPOINTS_DISABLED');
    if (verdict && !verdict.ok) {
      telemetry.authRefused(verdict.reason);
      return void sendUnauthenticated(ex, verdict.reason);
    }
    // With a key, the synthetic events are of the key's (first) tenant, so they pass the tenant check.
    const tenants = verdict?.ok ? (verdict.principal.tenants ?? undefined) : undefined;
    const count = countParam === undefined || countParam === '' ? 100 : Number(countParam);
    if (!Number.isInteger(count) || count < 1 || count > config.MAX_EVENTS_PER_BATCH) {
      return void sendError(ex, 'COLLECTOR_ERR_BAD_QUERY', `count must be an integer from 1 to ${config.MAX_EVENTS_PER_BATCH}`);
    }
    const body = Buffer.from(JSON.stringify(syntheticBatch(count, tenants ? { tenant: tenants[0]! } : {}, Math.floor(Math.random() * 1e6))));
    if (body.byteLength > slab.slotBytes) return void sendError(ex, 'COLLECTOR_ERR_BODY_TOO_LARGE');
    const ticket = ctx.admit('test_events', (code, detail, retryAfter) => {
      sendError(ex, code, detail, retryAfter !== undefined ? { retryAfter } : {});
    });
    if (!ticket) return;
    const held = slab.take();
    if (!held) {
      admission.settle(ticket);
      return void sendError(ex, 'COLLECTOR_ERR_OVERLOADED', 'no free request slot', { retryAfter: 1 });
    }
    slab.write(held.slot, 0, body);
    runBatch(ctx, ex, ticket, {
      slot: held.slot, token: held.token, length: body.byteLength, encoding: 'identity', startedAt, route: 'test_events',
      tenants, keyId: verdict?.ok ? verdict.principal.keyId : undefined,
    });
  });
}
