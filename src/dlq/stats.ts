/** `npm run dlq -- stats`: counts of dead letters by reason, error code, tenant, event type and schema version. */
import type { DeadLetterRecord } from './record.js';

export interface DeadLetterStats {
  total: number;
  first: string | null;
  last: string | null;
  byReason: Record<string, number>;
  /** every error code of every dead letter (an event can carry several) */
  byCode: Record<string, number>;
  byTenant: Record<string, number>;
  byType: Record<string, number>;
  byVersion: Record<string, number>;
}

export class StatsCounter {
  private readonly s: DeadLetterStats = { total: 0, first: null, last: null, byReason: {}, byCode: {}, byTenant: {}, byType: {}, byVersion: {} };
  private min = Infinity;
  private max = -Infinity;

  add(r: DeadLetterRecord): void {
    const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
    this.s.total++;
    bump(this.s.byReason, r.reason);
    for (const code of new Set(r.errors.map((e) => e.code))) bump(this.s.byCode, code);
    bump(this.s.byTenant, r.tenantId ?? '(none)');
    bump(this.s.byType, r.eventType ?? '(none)');
    bump(this.s.byVersion, r.schemaVersion === null ? 'none' : String(r.schemaVersion));
    if (r.timestamp < this.min) this.min = r.timestamp;
    if (r.timestamp > this.max) this.max = r.timestamp;
  }

  result(): DeadLetterStats {
    return { ...this.s, first: this.s.total ? new Date(this.min).toISOString() : null, last: this.s.total ? new Date(this.max).toISOString() : null };
  }
}

/** The stats as a few aligned tables, largest count first. */
export function formatStats(s: DeadLetterStats): string {
  const lines = [`${s.total} dead letter(s)${s.first ? ` from ${s.first} to ${s.last}` : ''}`];
  for (const [title, m] of [['reason', s.byReason], ['error code', s.byCode], ['tenant', s.byTenant], ['event type', s.byType], ['schema version', s.byVersion]] as const) {
    const rows = Object.entries(m).sort((a, b) => b[1] - a[1]);
    if (rows.length === 0) continue;
    lines.push('', `by ${title}:`);
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, n] of rows) lines.push(`  ${k.padEnd(w)}  ${n}`);
  }
  return lines.join('\n');
}
