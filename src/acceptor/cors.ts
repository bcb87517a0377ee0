/**
 * CORS for the collect route, so browsers can write: off unless CORS_ALLOWED_ORIGINS names
 * origins. Exact origins only (scheme, host and port, as the browser sends them): a pattern
 * or a suffix match is how CORS lists leak to look-alike domains. `*` lets any page write,
 * never together with credentials (the Fetch standard forbids it; we refuse it at start).
 *
 * A preflight is answered here alone: no admission ticket, no slot, nothing of the pipeline.
 * A write from an origin not on the list is refused before its body is read. The browser
 * would only hide the answer from the page; a text/plain beacon needs no preflight, so
 * without this check any page could write through its visitors' browsers.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import type { Config } from '../config/schema.js';
import { exchange, reply, sendError } from './reply.js';

export interface CorsPolicy {
  allows(origin: string): boolean;
  /** Headers every answer to an allowed origin carries. */
  answerHeaders(origin: string): Record<string, string>;
}

/** What a browser client sends beyond the CORS-safelisted headers. */
const BASE_ALLOWED_HEADERS = ['content-type', 'content-encoding', 'authorization', 'x-api-key'];

function originsOf(list: string): string[] {
  return list.split(',').map((o) => o.trim()).filter((o) => o !== '');
}

/** Configuration problems, for loadConfig: an origin is scheme://host[:port] exactly as a browser writes it. */
export function corsProblems(config: Pick<Config, 'CORS_ALLOWED_ORIGINS' | 'CORS_ALLOW_CREDENTIALS'>): string[] {
  const problems: string[] = [];
  for (const o of originsOf(config.CORS_ALLOWED_ORIGINS)) {
    if (o === '*') {
      if (config.CORS_ALLOW_CREDENTIALS) problems.push('CORS_ALLOWED_ORIGINS=*: browsers refuse credentials for any origin; list the origins, or set CORS_ALLOW_CREDENTIALS=false');
      continue;
    }
    let parsed: URL | null = null;
    try {
      parsed = new URL(o);
    } catch {
      // reported below
    }
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== o) {
      problems.push(`CORS_ALLOWED_ORIGINS: '${o}' is not an origin (scheme://host[:port], lower case, no path or trailing slash)`);
    }
  }
  return problems;
}

/** null: CORS is off. */
export function corsPolicy(config: Readonly<Config>): CorsPolicy | null {
  const origins = originsOf(config.CORS_ALLOWED_ORIGINS);
  if (origins.length === 0) return null;
  const any = origins.includes('*');
  const exact = new Set(origins);
  const fixed: Record<string, string> = { Vary: 'Origin', 'Access-Control-Expose-Headers': 'Retry-After' };
  if (config.CORS_ALLOW_CREDENTIALS) fixed['Access-Control-Allow-Credentials'] = 'true';
  return {
    // "null" is what sandboxed frames and file: pages send: never a listed origin.
    allows: (origin) => origin !== '' && origin !== 'null' && (any || exact.has(origin)),
    answerHeaders: (origin) => ({ 'Access-Control-Allow-Origin': origin, ...fixed }),
  };
}

/** The preflight of `path` (POST only), answered without touching the pipeline. */
export function registerPreflight(app: TemplatedApp, path: string, policy: CorsPolicy, config: Readonly<Config>): void {
  const allowHeaders = [...BASE_ALLOWED_HEADERS, ...(config.CLIENT_ID_HEADER ? [config.CLIENT_ID_HEADER.toLowerCase()] : [])].join(', ');
  const maxAge = String(config.CORS_MAX_AGE_S);
  app.options(path, (res: HttpResponse, req: HttpRequest) => {
    const origin = req.getHeader('origin');
    const method = req.getHeader('access-control-request-method');
    const ex = exchange(res);
    if (!policy.allows(origin)) return void sendError(ex, 'COLLECTOR_ERR_ORIGIN_FORBIDDEN', `origin '${origin}'`);
    if (method !== 'POST') return void sendError(ex, 'COLLECTOR_ERR_METHOD_NOT_ALLOWED', `${method || '(no method)'} ${path}; use POST`);
    reply(ex, 204, '', {
      headers: {
        ...policy.answerHeaders(origin),
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': allowHeaders,
        'Access-Control-Max-Age': maxAge,
      },
    });
  });
}
