/**
 * Repeats of one warning, at most one line per interval. librdkafka reports "all brokers down" on every
 * failed (re)connect and metadata retry — about 20 times a second while Kafka is away — and a 30-minute
 * outage would otherwise write ~36,000 identical lines. The first of a kind is logged at once; repeats
 * inside the interval are counted and the count is carried on the next line that is written.
 */
import type { Logger } from 'pino';

export class LogThrottle {
  private readonly last = new Map<string | number, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(log: Logger, key: string | number, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const seen = this.last.get(key);
    if (seen && t - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    log.warn(seen?.suppressed ? { ...fields, suppressed: seen.suppressed } : fields, msg);
    this.last.set(key, { at: t, suppressed: 0 });
  }
}
