/**
 * Writing answers on a uWS response. After onAborted every res.* call throws, and an
 * answer given after the handler returned must be corked — both are handled here once.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { AUTH_DETAIL, errorBody, ERRORS, type AuthRefusalReason, type ErrorCode } from '../errors.js';

export interface Exchange {
  res: HttpResponse;
  aborted: boolean;
  answered: boolean;
  /** headers every answer of this exchange carries (CORS: src/acceptor/cors.ts) */
  headers?: Record<string, string> | undefined;
}

export function exchange(res: HttpResponse, onAbort?: () => void): Exchange {
  const ex: Exchange = { res, aborted: false, answered: false };
  // Must be registered synchronously in the handler, before any await.
  res.onAborted(() => {
    ex.aborted = true;
    onAbort?.();
  });
  return ex;
}

const statusLines = new Map<number, string>();
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (!line) {
    line = `${status} ${STATUS_CODES[status] ?? ''}`.trim();
    statusLines.set(status, line);
  }
  return line;
}

export interface ReplyOptions {
  contentType?: string;
  headers?: Record<string, string>;
  /** seconds, as a Retry-After header */
  retryAfter?: number;
  /** close the connection after the answer (the body was not read) */
  close?: boolean;
  /**
   * Lingering close, for an answer given before a declared body was read: the answer is
   * complete and says `Connection: close`, but the socket stays open and the rest of the
   * declared body is read and discarded (the caller's onData), so the client closes first.
   * Closing at once, with its bytes still arriving, makes the kernel answer them with a
   * reset, which can destroy our answer before the client read it (Node's fetch: EPIPE).
   */
  linger?: boolean;
}

/** Answer once; later calls and calls after an abort are ignored. Returns whether it was written. */
export function reply(ex: Exchange, status: number, body: string | Buffer, opts: ReplyOptions = {}): boolean {
  if (ex.aborted || ex.answered) return false;
  ex.answered = true;
  // cork runs its callback at once: the answer goes through module state, not a closure per answer.
  pending.status = status;
  pending.body = body;
  pending.opts = opts;
  pending.res = ex.res;
  pending.extra = ex.headers;
  try {
    ex.res.cork(writeCorked);
  } finally {
    pending.res = null;
    pending.body = '';
  }
  return true;
}

const pending: { res: HttpResponse | null; status: number; body: string | Buffer; opts: ReplyOptions; extra: Record<string, string> | undefined } = {
  res: null, status: 0, body: '', opts: {}, extra: undefined,
};

function writeCorked(): void {
  const { res, status, body, opts, extra } = pending;
  if (!res) return;
  res.writeStatus(statusLine(status)).writeHeader('Content-Type', opts.contentType ?? 'application/json');
  if (opts.retryAfter !== undefined) res.writeHeader('Retry-After', String(opts.retryAfter));
  if (opts.headers) for (const k in opts.headers) res.writeHeader(k, opts.headers[k]!);
  if (extra) for (const k in extra) res.writeHeader(k, extra[k]!);
  // uWS cannot close a socket once its answer is complete, nor half-close it: the declared length
  // bounds what is read, and uWS's idle timeout (10 s) a client that stops sending without closing.
  if (opts.linger) res.writeHeader('Connection', 'close');
  res.end(body, !opts.linger && (opts.close ?? false));
}

export function replyJson(ex: Exchange, status: number, body: unknown, opts: ReplyOptions = {}): boolean {
  return reply(ex, status, JSON.stringify(body), opts);
}

/** An error answer from the registry; returns the status written. */
export function sendError(ex: Exchange, code: ErrorCode, detail?: string, opts: { close?: boolean; linger?: boolean; retryAfter?: number } = {}): number {
  replyJson(ex, ERRORS[code].status, errorBody(code, detail), opts);
  return ERRORS[code].status;
}

/** The answer to a write without a valid API key; returns the status written. */
export function sendUnauthenticated(ex: Exchange, reason: AuthRefusalReason): number {
  const status = ERRORS.COLLECTOR_ERR_UNAUTHENTICATED.status;
  replyJson(ex, status, errorBody('COLLECTOR_ERR_UNAUTHENTICATED', AUTH_DETAIL[reason]), {
    headers: { 'WWW-Authenticate': 'Bearer realm="event-collector"' },
  });
  return status;
}
