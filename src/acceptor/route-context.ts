/**
 * What the write routes (collect-route.ts, test-events-route.ts) share, built once per server: the admission
 * controller, the deadline queues, the CORS policy, the client key and API key checks, and the pipeline.
 */
import type { HttpRequest } from '@trufflesuite/uws-js-unofficial';
import type { Config } from '../config/schema.js';
import { REFUSALS, type ErrorCode } from '../errors.js';
import type { Collector } from '../pipeline/collector.js';
import { DeadlineQueue, runExpiry } from '../pipeline/deadlines.js';
import type { Slab } from '../ring/slab.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { presentedKey } from '../auth/presented.js';
import type { Verdict } from '../auth/keyring.js';
import { Admission, isRefusal, type Refusal, type Ticket } from './admission.js';
import { clientKeyReader, type ClientKeyReader } from './client-key.js';
import { corsPolicy, type CorsPolicy } from './cors.js';
import { threadSchedstat } from './cpu-contention.js';
import type { ServerDeps } from './server.js';

/** Answers a refused request (the route knows how: headers, linger, telemetry). */
export type Refuse = (code: ErrorCode, detail?: string, retryAfter?: number) => void;

export interface RouteContext {
  config: Readonly<Config>;
  slab: Slab;
  collector: Collector;
  telemetry: Telemetry;
  admission: Admission;
  /** true while draining: answers close their connection so clients reconnect to a live process */
  draining: () => boolean;
  /** one timer per kind of deadline, not one per request (src/pipeline/deadlines.ts) */
  answerDeadlines: DeadlineQueue<() => void>;
  bodyDeadlines: DeadlineQueue<() => void>;
  /** null unless CORS_ALLOWED_ORIGINS */
  cors: CorsPolicy | null;
  clientKey: ClientKeyReader;
  /** null when AUTH_MODE=none. Must run inside the handler: req is invalid after it returns. */
  authenticate: (req: HttpRequest) => Verdict | null;
  /** Admission before any body byte is read; a refusal is answered through `refuse` and counted. */
  admit: (key: string, refuse: Refuse) => Ticket | null;
}

export function routeContext(deps: ServerDeps): RouteContext {
  const { config, slab, telemetry, keyring, producerBacklogged } = deps;
  const admission = new Admission({
    targetMs: config.ADMISSION_TARGET_MS,
    maxLimit: slab.slots,
    minLimit: Math.min(config.ADMISSION_MIN_IN_FLIGHT, slab.slots),
    clientMaxInFlight: config.CLIENT_MAX_IN_FLIGHT,
    clientRatePerS: config.CLIENT_RATE_LIMIT,
    ...(config.ADMISSION_STARVATION_AWARE ? { cpu: threadSchedstat() } : { holdStalls: false }),
  });
  telemetry.watchAdmission(() => ({ limit: admission.limit, inFlight: admission.inFlight, stretch: admission.stretch }));
  return {
    config,
    slab,
    collector: deps.collector,
    telemetry,
    admission,
    draining: deps.draining,
    answerDeadlines: new DeadlineQueue<() => void>(config.REQUEST_TIMEOUT_MS, runExpiry),
    bodyDeadlines: new DeadlineQueue<() => void>(config.BODY_TIMEOUT_MS, runExpiry),
    cors: corsPolicy(config),
    clientKey: clientKeyReader(config.CLIENT_ID_HEADER, config.CLIENT_MAX_IN_FLIGHT > 0 || config.CLIENT_RATE_LIMIT > 0),
    authenticate: (req) =>
      keyring ? keyring.verify(presentedKey(req.getHeader('authorization'), req.getHeader('x-api-key'))) : null,
    admit: (key, refuse) => {
      const verdict: Ticket | Refusal = producerBacklogged() ? { reason: 'producer_queue', retryAfterS: 1 } : admission.admit(key);
      if (!isRefusal(verdict)) return verdict;
      telemetry.admissionRefused(verdict.reason);
      const r = REFUSALS[verdict.reason];
      refuse(r.code, r.detail, verdict.retryAfterS);
      return null;
    },
  };
}
