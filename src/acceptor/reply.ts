/**
 * Writing answers on a uWS response. After onAborted every res.* call throws, and an
 * answer given after the handler returned must be corked — both are handled here once.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';
import { errorBody, ERRORS, type ErrorCode } from '../errors.js';

export interface Exchange {
  res: HttpResponse;
  aborted: boolean;
  answered: boolean;
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
  /** close the connection after the answer (the body was not read) */
  close?: boolean;
}

/** Answer once; later calls and calls after an abort are ignored. Returns whether it was written. */
export function reply(ex: Exchange, status: number, body: string | Buffer, opts: ReplyOptions = {}): boolean {
  if (ex.aborted || ex.answered) return false;
  ex.answered = true;
  ex.res.cork(() => {
    ex.res.writeStatus(statusLine(status)).writeHeader('Content-Type', opts.contentType ?? 'application/json');
    if (opts.headers) for (const [k, v] of Object.entries(opts.headers)) ex.res.writeHeader(k, v);
    ex.res.end(body, opts.close ?? false);
  });
  return true;
}

export function replyJson(ex: Exchange, status: number, body: unknown, opts: ReplyOptions = {}): boolean {
  return reply(ex, status, JSON.stringify(body), opts);
}

/** An error answer from the registry; returns the status written. */
export function sendError(ex: Exchange, code: ErrorCode, detail?: string, opts: { close?: boolean; retryAfter?: number } = {}): number {
  const headers: Record<string, string> = {};
  if (opts.retryAfter !== undefined) headers['Retry-After'] = String(opts.retryAfter);
  replyJson(ex, ERRORS[code].status, errorBody(code, detail), { headers, close: opts.close ?? false });
  return ERRORS[code].status;
}
