/**
 * The metrics token (METRICS_TOKEN): GET /metrics names the tenants of the keys and quota files,
 * so an operator can require a bearer token there. A bearer token is what Prometheus scrape
 * configs speak natively (`authorization: {credentials_file: …}`), and it needs no second
 * listener shared by every process of the host, nor a second port in every manifest.
 * The comparison is of SHA-256 digests in constant time: neither the length nor a prefix of the
 * token leaks through the answer's timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { presentedKey } from '../auth/presented.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** null: no token configured, /metrics is open. Otherwise: whether an Authorization header carries the token. */
export function metricsTokenCheck(token: string): ((authorization: string) => boolean) | null {
  if (token === '') return null;
  const want = digest(token);
  return (authorization) => {
    const presented = presentedKey(authorization, '');
    return presented !== undefined && timingSafeEqual(digest(presented), want);
  };
}
