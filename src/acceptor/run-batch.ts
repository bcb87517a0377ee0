/**
 * A batch already in its slab slot, through the pipeline (src/pipeline/collector.ts) and answered within the
 * answer deadline.
 */
import type { CollectAnswer } from '../pipeline/answer.js';
import { answerJson } from '../pipeline/answer.js';
import type { Ticket } from './admission.js';
import type { BodyEncoding } from './headers.js';
import { reply, sendError, type Exchange, type ReplyOptions } from './reply.js';
import type { RouteContext } from './route-context.js';

export interface SlottedBatch {
  slot: number;
  token: number;
  length: number;
  encoding: BodyEncoding;
  /** performance.now() when the request arrived */
  startedAt: number;
  /** the route's name in telemetry */
  route: string;
  /** the API key's tenants (undefined: any tenant) */
  tenants: readonly string[] | undefined;
  keyId: string | undefined;
}

const NONE: ReplyOptions = Object.freeze({});
const CLOSE: ReplyOptions = Object.freeze({ close: true });

function sendAnswer(ex: Exchange, a: CollectAnswer, close: boolean): void {
  reply(ex, a.status, answerJson(a.body), a.retryAfter === undefined ? (close ? CLOSE : NONE) : { retryAfter: a.retryAfter, close });
}

/**
 * The ticket is settled when the pipeline is done with the batch, not when the answer leaves: a deadline answer
 * or an aborted client does not make the work disappear.
 */
export function runBatch(ctx: RouteContext, ex: Exchange, ticket: Ticket, batch: SlottedBatch): void {
  const { config, telemetry, answerDeadlines, admission } = ctx;
  const { startedAt, route, encoding } = batch;
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
        sendAnswer(ex, answer, ctx.draining());
        telemetry.requestAnswered(route, answer.status, performance.now() - startedAt);
      }
    } catch (e) {
      sendError(ex, 'COLLECTOR_ERR_INTERNAL', (e as Error).message);
      telemetry.requestAnswered(route, 500, performance.now() - startedAt);
    } finally {
      admission.settle(ticket, performance.now() - bodyDoneAt);
    }
  };
  const { slot, token, length, tenants, keyId } = batch;
  ctx.collector.collect({ slot, token, length, gzip: encoding === 'gzip', ...(encoding === 'zstd' ? { zstd: true } : {}), receivedAt, tenants, keyId }, startedAt).then(
    (answer) => finish(answer, undefined),
    (err: unknown) => finish(null, err),
  );
}
