/**
 * Which dead letters a `npm run dlq` command looks at. Every filter given must match; a list
 * matches when any of its values does. Times bound the Kafka record's timestamp (when the
 * collector dead-lettered the event), and --since also tells the reader where to start.
 */
import type { DeadLetterRecord } from './record.js';

export interface DeadLetterFilter {
  since?: number;
  until?: number;
  reasons?: string[];
  codes?: string[];
  tenants?: string[];
  types?: string[];
  versions?: string[];
}

export class FilterError extends Error {
  override name = 'FilterError';
}

function time(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  // A duration back from now ("2h", "30m", "7d") or anything Date.parse reads (RFC 3339 above all).
  const ago = /^(\d+)(s|m|h|d)$/.exec(v);
  if (ago) return Date.now() - Number(ago[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[ago[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new FilterError(`--${flag} ${v}: not a time (RFC 3339, e.g. 2026-12-01T00:00:00Z, or a duration back from now: 30m, 2h, 7d)`);
  return t;
}

export function parseFilter(values: Record<string, string | string[] | boolean | undefined>): DeadLetterFilter {
  const list = (k: string) => {
    const v = values[k];
    if (v === undefined || typeof v === 'boolean') return undefined;
    return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter((s) => s !== '');
  };
  const f: DeadLetterFilter = {};
  const since = time('since', values.since as string | undefined);
  const until = time('until', values.until as string | undefined);
  if (since !== undefined) f.since = since;
  if (until !== undefined) f.until = until;
  if (since !== undefined && until !== undefined && since > until) throw new FilterError('--since is after --until');
  for (const [flag, key] of [['reason', 'reasons'], ['code', 'codes'], ['tenant', 'tenants'], ['type', 'types'], ['version', 'versions']] as const) {
    const v = list(flag);
    if (v !== undefined) f[key] = v;
  }
  return f;
}

export function matches(f: DeadLetterFilter, r: DeadLetterRecord): boolean {
  if (f.since !== undefined && r.timestamp < f.since) return false;
  if (f.until !== undefined && r.timestamp > f.until) return false;
  if (f.reasons && !f.reasons.includes(r.reason)) return false;
  if (f.codes && !r.errors.some((e) => f.codes!.includes(e.code))) return false;
  if (f.tenants && !f.tenants.includes(r.tenantId ?? '')) return false;
  if (f.types && !f.types.includes(r.eventType ?? '')) return false;
  if (f.versions && !f.versions.includes(r.schemaVersion === null ? 'none' : String(r.schemaVersion))) return false;
  return true;
}
