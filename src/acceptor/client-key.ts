/**
 * Who is asking, for the per-client limits. The remote address by default; behind a proxy
 * or load balancer every request has the proxy's address, so the operator can name a
 * header instead (x-api-key, x-forwarded-for — of which the first address is the client).
 * Keys are capped in length: a hostile header must not become a large map key.
 */
import type { HttpRequest, HttpResponse } from '@trufflesuite/uws-js-unofficial';

const MAX_KEY = 128;

export type ClientKeyReader = (req: HttpRequest, res: HttpResponse) => string;

/** Reads must happen inside the uWS handler (req is invalid after it returns). */
export function clientKeyReader(header: string, enabled: boolean): ClientKeyReader {
  if (!enabled) return () => '';
  const name = header.trim().toLowerCase();
  const forwarded = name === 'x-forwarded-for';
  const remote = (res: HttpResponse) => Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
  if (name === '') return (_req, res) => remote(res);
  return (req, res) => {
    let v = req.getHeader(name);
    if (forwarded) v = v.split(',', 1)[0]!;
    v = v.trim();
    return v === '' ? remote(res) : `h:${v.slice(0, MAX_KEY)}`;
  };
}
