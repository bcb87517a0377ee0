/**
 * The HTTP edge (uWebSockets.js, or Node's http server with HTTP_ENGINE=node: node-engine.ts):
 * routes, request admission, body into the slab, and the answer. Everything after the body is
 * in lives in src/pipeline/collector.ts.
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import type { Config } from '../config/schema.js';
import { AUTH_DETAIL, errorBody, ERRORS, REFUSALS, type AuthRefusalReason, type ErrorCode } from '../errors.js';
import type { Collector } from '../pipeline/collector.js';
import type { CollectAnswer } from '../pipeline/answer.js';
import type { Slab } from '../ring/slab.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { syntheticBatch } from '../pipeline/synthetic.js';
import { readIntoSlot } from './body.js';
import { exchange, reply, replyJson, sendError, type Exchange, type ReplyOptions } from './reply.js';
import { DeadlineQueue, runExpiry } from '../pipeline/deadlines.js';
import { answerJson } from '../pipeline/answer.js';
import { contentTypeProblem, encodingOf, type BodyEncoding } from './headers.js';
import { registerOpsRoutes, type OpsDeps } from './ops-routes.js';
import { corsPolicy, registerPreflight } from './cors.js';
import { Admission, isRefusal, type Refusal, type Ticket } from './admission.js';
import { clientKeyReader } from './client-key.js';
import { threadSchedstat } from './cpu-contention.js';
import { presentedKey } from '../auth/presented.js';
import { nodeEngine } from './node-engine.js';
import type { Keyring, Verdict } from '../auth/keyring.js';

export interface ServerDeps {
  config: Readonly<Config>;
  slab: Slab;
  collector: Collector;
  telemetry: Telemetry;
  /** true while new batches would go to a producer queue too full to take them (refused: 503) */
  producerBacklogged: () => boolean;
  /** true while draining: answers close their connection so clients reconnect to a live process */
  draining: () => boolean;
  ops: OpsDeps;
  /** AUTH_MODE=api_key: the keys every write must present; null: no authentication */
  keyring: Keyring | null;
}

export interface Server {
  port: number;
  admission: Admission;
  close(): void;
}

/**
 * The most of a body declared too large that is read and discarded after the 413 (lingering
 * close), so that the client reads the answer instead of a reset: 128 MiB is two seconds of a
 * 500 Mbit/s upload, and covers the clients seen (Node's fetch sending 60 MB).
 */
const LINGER_MAX_BYTES = 128 << 20;

function sendUnauthenticated(ex: Exchange, reason: AuthRefusalReason): number {
  const status = ERRORS.COLLECTOR_ERR_UNAUTHENTICATED.status;
  replyJson(ex, status, errorBody('COLLECTOR_ERR_UNAUTHENTICATED', AUTH_DETAIL[reason]), {
    headers: { 'WWW-Authenticate': 'Bearer realm="event-collector"' },
  });
  return status;
}

/** Refuse to run on uWS's silent node:http fallback: it is slower and half of its API throws. */
export function assertNativeUws(): void {
  if ((uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT === undefined) {
    throw new Error('uWebSockets.js native binary did not load (JS fallback in use); this platform is unsupported');
  }
}

function sendAnswer(ex: Exchange, a: CollectAnswer, close: boolean): void {
  reply(ex, a.status, answerJson(a.body), a.retryAfter === undefined ? (close ? CLOSE : NONE) : { retryAfter: a.retryAfter, close });
}

const NONE: ReplyOptions = Object.freeze({});
const CLOSE: ReplyOptions = Object.freeze({ close: true });

export function startServer(deps: ServerDeps): Promise<Server> {
  const { config, slab, collector, telemetry } = deps;
  const node = config.HTTP_ENGINE === 'node' ? nodeEngine() : null;
  const app: TemplatedApp = node ? node.app : uWS.App();
  const admission = new Admission({
    targetMs: config.ADMISSION_TARGET_MS,
    maxLimit: slab.slots,
    minLimit: Math.min(config.ADMISSION_MIN_IN_FLIGHT, slab.slots),
    clientMaxInFlight: config.CLIENT_MAX_IN_FLIGHT,
    clientRatePerS: config.CLIENT_RATE_LIMIT,
    ...(config.ADMISSION_STARVATION_AWARE ? { cpu: threadSchedstat() } : { holdStalls: false }),
  });
  telemetry.watchAdmission(() => ({ limit: admission.limit, inFlight: admission.inFlight, stretch: admission.stretch }));
  /** null when AUTH_MODE=none. Must run inside the handler: req is invalid after it returns. */
  const authenticate = (req: HttpRequest): Verdict | null =>
    deps.keyring ? deps.keyring.verify(presentedKey(req.getHeader('authorization'), req.getHeader('x-api-key'))) : null;
  // One timer per kind of deadline, not one per request (src/pipeline/deadlines.ts).
  const answerDeadlines = new DeadlineQueue<() => void>(config.REQUEST_TIMEOUT_MS, runExpiry);
  const bodyDeadlines = new DeadlineQueue<() => void>(config.BODY_TIMEOUT_MS, runExpiry);
  const cors = corsPolicy(config);
  const clientKey = clientKeyReader(config.CLIENT_ID_HEADER, config.CLIENT_MAX_IN_FLIGHT > 0 || config.CLIENT_RATE_LIMIT > 0);

  /**
   * Runs a batch already in slot through the pipeline and answers within the deadline.
   * The ticket is settled when the pipeline is done with the batch, not when the answer
   * leaves: a deadline answer or an aborted client does not make the work disappear.
   */
  const run = (
    ex: Exchange, ticket: Ticket, slot: number, token: number, length: number, encoding: BodyEncoding, startedAt: number, route: string,
    tenants: readonly string[] | undefined, keyId: string | undefined,
  ) => {
    const receivedAt = Date.now();
    const bodyDoneAt = performance.now();
    const deadline = answerDeadlines.arm(() => {
      sendError(ex, 'COLLECTOR_ERR_DEADLINE', `no answer within ${config.REQUEST_TIMEOUT_MS} ms`, { retryAfter: 1 });
      telemetry.requestAnswered(route, 503, performance.now() - startedAt);
    });
    // One promise reaction for both outcomes (not then/catch/finally: three promises per request).
    const finish = (answer: CollectAnswer | null, err: unknown) => {
      answerDeadlines.cancel(deadline);
      try {
        if (answer === null) throw err;
        if (!ex.answered) {
          sendAnswer(ex, answer, deps.draining());
          telemetry.requestAnswered(route, answer.status, performance.now() - startedAt);
        }
      } catch (e) {
        sendError(ex, 'COLLECTOR_ERR_INTERNAL', (e as Error).message);
        telemetry.requestAnswered(route, 500, performance.now() - startedAt);
      } finally {
        admission.settle(ticket, performance.now() - bodyDoneAt);
      }
    };
    collector.collect({ slot, token, length, gzip: encoding === 'gzip', ...(encoding === 'zstd' ? { zstd: true } : {}), receivedAt, tenants, keyId }, startedAt).then(
      (answer) => finish(answer, undefined),
      (err: unknown) => finish(null, err),
    );
  };

  /** Admission before any body byte is read; a refusal is answered here and counted. */
  const admit = (key: string, refuse: (code: ErrorCode, detail?: string, retryAfter?: number) => void): Ticket | null => {
    const verdict: Ticket | Refusal =
      deps.producerBacklogged() ? { reason: 'producer_queue', retryAfterS: 1 } : admission.admit(key);
    if (!isRefusal(verdict)) return verdict;
    telemetry.admissionRefused(verdict.reason);
    const r = REFUSALS[verdict.reason];
    refuse(r.code, r.detail, verdict.retryAfterS);
    return null;
  };

  app.post('/api/v1/collect', (res: HttpResponse, req: HttpRequest) => {
    const startedAt = performance.now();
    // Headers must be read before the handler returns: req is invalid afterwards.
    const encoding = encodingOf(req.getHeader('content-encoding'));
    const typeProblem = contentTypeProblem(req.getHeader('content-type'), cors !== null);
    const origin = cors ? req.getHeader('origin') : '';
    const declared = req.getHeader('content-length');
    const key = clientKey(req, res);
    const verdict = authenticate(req);
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
    ticket = admit(key, refuse);
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
      run(ex, admitted, slot, token, body.length, encoding, startedAt, 'collect', tenants, keyId);
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

  app.post('/api/v1/test/events', (res: HttpResponse, req: HttpRequest) => {
    const startedAt = performance.now();
    const countParam = req.getQuery('count');
    const verdict = authenticate(req);
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
    const ticket = admit('test_events', (code, detail, retryAfter) => {
      sendError(ex, code, detail, retryAfter !== undefined ? { retryAfter } : {});
    });
    if (!ticket) return;
    const held = slab.take();
    if (!held) {
      admission.settle(ticket);
      return void sendError(ex, 'COLLECTOR_ERR_OVERLOADED', 'no free request slot', { retryAfter: 1 });
    }
    slab.write(held.slot, 0, body);
    run(ex, ticket, held.slot, held.token, body.byteLength, 'identity', startedAt, 'test_events', tenants, verdict?.ok ? verdict.principal.keyId : undefined);
  });

  if (cors) registerPreflight(app, '/api/v1/collect', cors, config);
  const opsPaths = registerOpsRoutes(app, deps.ops);

  // Known paths with the wrong method → 405; anything else → 404.
  const allowed: Record<string, string> = {
    '/api/v1/collect': 'POST',
    '/api/v1/test/events': 'POST',
    ...Object.fromEntries(opsPaths.map((path) => [path, 'GET'])),
  };
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

  if (node) return node.listen(config.HOST, config.PORT).then((l) => ({ ...l, admission }));
  return new Promise((resolve, reject) => {
    app.listen(config.HOST, config.PORT, (socket: us_listen_socket | false) => {
      if (!socket) return reject(new Error(`cannot listen on ${config.HOST}:${config.PORT}`));
      resolve({
        port: uWS.us_socket_local_port(socket),
        admission,
        close: () => uWS.us_listen_socket_close(socket),
      });
    });
  });
}
