/**
 * POST /api/v1/collect: headers, CORS, API key and admission before any body byte is read, then the body into a
 * slab slot (body.ts) within BODY_TIMEOUT_MS, then the pipeline (run-batch.ts).
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { Ticket } from './admission.js';
import { readIntoSlot } from './body.js';
import { contentTypeProblem, encodingOf } from './headers.js';
import { exchange, sendError, sendUnauthenticated } from './reply.js';
import type { RouteContext } from './route-context.js';
import { runBatch } from './run-batch.js';

export const COLLECT_PATH = '/api/v1/collect';

/**
 * The most of a body declared too large that is read and discarded after the 413 (lingering
 * close), so that the client reads the answer instead of a reset: 128 MiB is two seconds of a
 * 500 Mbit/s upload, and covers the clients seen (Node's fetch sending 60 MB).
 */
const LINGER_MAX_BYTES = 128 << 20;

export function registerCollectRoute(app: TemplatedApp, ctx: RouteContext): void {
  const { config, slab, telemetry, admission, bodyDeadlines, cors } = ctx;
  app.post(COLLECT_PATH, (res: HttpResponse, req: HttpRequest) => {
    const startedAt = performance.now();
    // Headers must be read before the handler returns: req is invalid afterwards.
    const encoding = encodingOf(req.getHeader('content-encoding'));
    const typeProblem = contentTypeProblem(req.getHeader('content-type'), cors !== null);
    const origin = cors ? req.getHeader('origin') : '';
    const declared = req.getHeader('content-length');
    const key = ctx.clientKey(req, res);
    const verdict = ctx.authenticate(req);
    let held: { slot: number; token: number } | null = null;
    let ticket: Ticket | null = null;
    let bodyDeadline = 0;
    let stopBody: (() => void) | undefined;
    /** Gives back what a request holds before its body is complete (slot, admission ticket, timer). */
    const letGo = () => {
      bodyDeadlines.cancel(bodyDeadline);
      stopBody?.();
      if (held) slab.release(held.slot, held.token);
      held = null;
      if (ticket) admission.settle(ticket);
    };
    // A client that goes away mid-body gives everything back at once.
    const ex = exchange(res, () => {
      if (held) letGo();
    });
    const refuse = (code: ErrorCode, detail?: string, retryAfter?: number, linger = false) => {
      // Only a body too large to read is cut off by closing; for anything else uWS skips the unread
      // body and the connection stays usable (closing made clients still uploading see EPIPE, not a 503).
      const close = ERRORS[code].status === 413;
      const status = sendError(ex, code, detail, { close, linger, ...(retryAfter !== undefined ? { retryAfter } : {}) });
      telemetry.requestAnswered('collect', status, performance.now() - startedAt);
    };

    if (origin !== '') {
      if (!cors!.allows(origin)) return refuse('COLLECTOR_ERR_ORIGIN_FORBIDDEN', `origin '${origin}'`);
      ex.headers = cors!.answerHeaders(origin);
    }
    // Before anything else: a caller without a valid key learns nothing about the request.
    if (verdict && !verdict.ok) {
      telemetry.authRefused(verdict.reason);
      telemetry.requestAnswered('collect', sendUnauthenticated(ex, verdict.reason), performance.now() - startedAt);
      return;
    }
    const tenants = verdict?.ok ? (verdict.principal.tenants ?? undefined) : undefined;
    const keyId = verdict?.ok ? verdict.principal.keyId : undefined;
    if (encoding === null) return refuse('COLLECTOR_ERR_UNSUPPORTED_ENCODING', `got '${req.getHeader('content-encoding')}'`);
    if (typeProblem) return refuse('COLLECTOR_ERR_UNSUPPORTED_MEDIA_TYPE', typeProblem);
    if (declared !== '' && Number(declared) > config.MAX_BODY_BYTES) {
      // Lingering close up to LINGER_MAX_BYTES of declared body, read and dropped; a larger one is cut at once.
      const linger = Number(declared) <= LINGER_MAX_BYTES;
      if (linger) res.onData(() => {});
      return refuse('COLLECTOR_ERR_BODY_TOO_LARGE', `content-length ${declared} exceeds ${config.MAX_BODY_BYTES} bytes`, undefined, linger);
    }
    ticket = ctx.admit(key, refuse);
    if (!ticket) return;
    held = slab.take();
    if (!held) {
      admission.settle(ticket);
      return refuse('COLLECTOR_ERR_OVERLOADED', 'no free request slot', 1);
    }

    const { slot, token } = held;
    const admitted = ticket;
    stopBody = readIntoSlot(res, slab, slot, config.MAX_BODY_BYTES, (body) => {
      if (!body.ok) {
        letGo();
        return refuse('COLLECTOR_ERR_BODY_TOO_LARGE', `more than ${config.MAX_BODY_BYTES} bytes`);
      }
      if (body.length === 0) {
        letGo();
        return refuse('COLLECTOR_ERR_INVALID_JSON', 'the body is empty');
      }
      bodyDeadlines.cancel(bodyDeadline);
      held = null; // from here the pipeline owns the slot and the ticket
      runBatch(ctx, ex, admitted, { slot, token, length: body.length, encoding, startedAt, route: 'collect', tenants, keyId });
    });
    if (held) {
      // Slowloris and trickled uploads: a body not complete in time loses its slot and its connection.
      bodyDeadline = bodyDeadlines.arm(() => {
        if (!held) return;
        letGo();
        const status = sendError(ex, 'COLLECTOR_ERR_BODY_TIMEOUT', `body not complete within ${config.BODY_TIMEOUT_MS} ms`, { close: true });
        telemetry.bodyTimedOut();
        telemetry.requestAnswered('collect', status, performance.now() - startedAt);
      });
    }
  });
}
