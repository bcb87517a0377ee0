/**
 * The collector client, the same in browsers and Node: track() fills in what an event lacks
 * and queues it; one sender at a time takes batches from the head of the queue (by count,
 * bytes, or every flushIntervalMs), gzips them, and retries them until the collector answers
 * for them (src/retry.ts says what each answer means). The platform (src/browser.ts,
 * src/node.ts) brings gzip, the queue's store, UUIDs and fetch.
 *
 * Failure cases: a network error or an overloaded collector keeps the events at the head of
 * the queue and retries later, the same event_ids each time (the collector's dedup turns a
 * retry of a batch it did write into "duplicate: acknowledged"); the queue full drops new
 * events (counted, onDropped); a batch the collector refuses (400, 401, …) is reported to
 * onRejected and not retried.
 */
import { EventQueue, type QueueStore, type Stored } from './queue.js';
import { backoffMs, retryAfterMs, verdictOf, type BackoffOptions } from './retry.js';
import type { CollectorEvent, EventType, TrackInput } from './events.gen.js';

export interface Platform {
  gzip(body: Uint8Array): Promise<Uint8Array>;
  store(): QueueStore<CollectorEvent>;
  uuid(): string;
  fetch: typeof fetch;
}

export interface EventError {
  code: string;
  path: string;
  message: string;
}

/** An event the collector refused (dead-lettered, or its whole batch refused): it is not retried. */
export interface Rejection {
  event: CollectorEvent;
  /** the HTTP status of the answer */
  status: number;
  /** dead-letter reason (validation, too_large, tenant_forbidden, poison_pill) or the batch's error code */
  reason: string;
  errors: EventError[];
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  status: number | null;
  retryAfterMs: number | undefined;
  events: number;
}

export interface CollectorOptions {
  /** the collector's base URL, e.g. https://collector.example.com */
  endpoint: string;
  /** sent as Authorization: Bearer (AUTH_MODE=api_key) */
  apiKey?: string;
  /** defaults for events that do not say */
  tenantId?: string;
  sourceService?: string;
  /** at most this many events per request (the collector takes 1000) */
  maxBatchEvents?: number;
  /** at most this many bytes of event JSON per request (before gzip) */
  maxBatchBytes?: number;
  /** queued events are sent at least this often (ms) */
  flushIntervalMs?: number;
  /** gzip bodies of at least gzipMinBytes */
  gzip?: boolean;
  gzipMinBytes?: number;
  retry?: Partial<BackoffOptions>;
  /** a request not answered within this (ms) is retried */
  requestTimeoutMs?: number;
  /** bounds of the offline queue */
  maxQueueEvents?: number;
  maxQueueBytes?: number;
  onRejected?: (rejection: Rejection) => void;
  /** the queue was full: this event was not kept */
  onDropped?: (event: CollectorEvent) => void;
  onRetry?: (info: RetryInfo) => void;
  /** store errors and unexpected answers; delivery goes on */
  onError?: (err: unknown) => void;
  /** the fetch to send with (a proxy agent, instrumentation); the global one by default */
  fetch?: typeof fetch;
}

export interface CollectorStats {
  queued: number;
  queuedBytes: number;
  dropped: number;
  delivered: number;
  rejected: number;
  retries: number;
}

const MAX_EVENTS = 1000;
const encoder = new TextEncoder();

/** What a batch answer body may hold (src/pipeline/answer.ts, errors in src/errors.ts of the collector). */
interface AnswerBody {
  dlq_events?: { index: number; reason: string; errors: EventError[] }[];
  error?: { code: string; message: string; detail?: string };
}

export class Collector {
  private readonly o: Required<Omit<CollectorOptions, 'apiKey' | 'tenantId' | 'sourceService' | 'retry' | 'onRejected' | 'onDropped' | 'onRetry' | 'onError' | 'fetch'>> & CollectorOptions;
  private readonly backoff: BackoffOptions;
  private readonly queue: EventQueue<CollectorEvent>;
  private readonly url: string;
  private readonly ready: Promise<void>;
  private isReady = false;
  /** the drain in progress, if any: one sender at a time */
  private sending: Promise<void> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private flushTimer: ReturnType<typeof setInterval> | undefined;
  private attempt = 0;
  /** no retry before this time (ms since the epoch): the last Retry-After */
  private notBefore = 0;
  /** lowered after a 413, back to maxBatchEvents after a success */
  private cap: number;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly counts = { delivered: 0, rejected: 0, retries: 0 };

  constructor(options: CollectorOptions, private readonly platform: Platform) {
    this.o = {
      maxBatchEvents: 100, maxBatchBytes: 512 * 1024, flushIntervalMs: 2000, gzip: true, gzipMinBytes: 1024, requestTimeoutMs: 30_000,
      maxQueueEvents: 10_000, maxQueueBytes: 10 * 1024 * 1024, ...options,
    };
    if (!Number.isInteger(this.o.maxBatchEvents) || this.o.maxBatchEvents < 1 || this.o.maxBatchEvents > MAX_EVENTS) {
      throw new RangeError(`maxBatchEvents must be an integer from 1 to ${MAX_EVENTS}`);
    }
    this.backoff = { baseMs: 500, maxMs: 30_000, ...options.retry };
    this.cap = this.o.maxBatchEvents;
    this.url = `${this.o.endpoint.replace(/\/+$/, '')}/api/v1/collect`;
    this.queue = new EventQueue(platform.store(), { maxEvents: this.o.maxQueueEvents, maxBytes: this.o.maxQueueBytes }, (err) => this.o.onError?.(err));
    this.ready = this.queue.open().then(() => {
      this.isReady = true;
      this.kick();
    });
    this.flushTimer = setInterval(() => this.kick(), this.o.flushIntervalMs);
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  /** Queues an event, filling event_id, timestamp, tenant_id and source_service when absent; returns it as it will be sent. */
  track<T extends EventType>(input: TrackInput<T>): CollectorEvent<T> {
    const event = {
      ...input,
      event_id: input.event_id ?? this.platform.uuid(),
      timestamp: input.timestamp ?? new Date().toISOString(),
      tenant_id: input.tenant_id ?? this.o.tenantId,
      source_service: input.source_service ?? this.o.sourceService,
    } as CollectorEvent<T>;
    if (this.closed) throw new Error('the collector client is closed');
    if (!this.queue.push(event as CollectorEvent, encoder.encode(JSON.stringify(event)).length)) {
      this.o.onDropped?.(event as CollectorEvent);
      return event;
    }
    if (this.queue.length >= this.o.maxBatchEvents || this.queue.byteLength >= this.o.maxBatchBytes) this.kick();
    return event;
  }

  /** Sends everything queued; resolves when the queue is empty (retries included) or the timeout passed. */
  async flush(timeoutMs = Infinity): Promise<void> {
    await this.ready;
    this.kick();
    if (this.queue.length === 0 && this.sending === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      if (Number.isFinite(timeoutMs)) timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  /** Flushes (within timeoutMs), stops the timers and waits for the store; what is left stays queued for next time. */
  async close(timeoutMs = 10_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    clearInterval(this.flushTimer);
    clearTimeout(this.retryTimer);
    // A request still out settles its events (acknowledged, or kept) before the store is final.
    await this.sending;
    await this.queue.persisted();
  }

  /** Resolves when every event tracked so far is in the offline store. */
  async persisted(): Promise<void> {
    await this.ready;
    await this.queue.persisted();
  }

  stats(): CollectorStats {
    return { queued: this.queue.length, queuedBytes: this.queue.byteLength, dropped: this.queue.dropped, ...this.counts };
  }

  /**
   * The network is back (the browser said so): retry at once instead of waiting out the backoff,
   * unless the collector itself asked for the wait (Retry-After).
   */
  retryNow(): void {
    if (Date.now() < this.notBefore) return;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.attempt = 0;
    this.kick();
  }

  /**
   * The head of the queue as one request body of at most `maxBytes`, for a page that is closing
   * (src/browser.ts): plain JSON, since gzip there is asynchronous. The events stay queued: the
   * next page sends them again and the collector's dedup keeps one copy.
   */
  unloadBody(maxBytes: number): string | null {
    if (!this.isReady || this.queue.length === 0) return null;
    const events: CollectorEvent[] = [];
    let size = 64; // the envelope
    for (const s of this.queue.head(this.cap, maxBytes)) {
      if (size + s.bytes + 1 > maxBytes) break;
      size += s.bytes + 1;
      events.push(s.event);
    }
    return events.length === 0 ? null : JSON.stringify({ sent_at: new Date().toISOString(), events });
  }

  get endpointUrl(): string {
    return this.url;
  }

  headers(contentType: string): Record<string, string> {
    return { 'content-type': contentType, ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}) };
  }

  private kick(): void {
    if (!this.isReady || this.sending || this.retryTimer !== undefined || this.closed) return;
    if (this.queue.length === 0) {
      this.settleIdle();
      return;
    }
    this.sending = this.drain().finally(() => {
      this.sending = null;
      if (this.queue.length === 0) this.settleIdle();
    });
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Batches from the head until the queue is empty or a retry is scheduled. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue.head(this.cap, this.o.maxBatchBytes);
      const scheduled = await this.send(batch);
      if (scheduled) return;
    }
  }

  /** One request; true when it must be retried later (the timer is set). */
  private async send(batch: Stored<CollectorEvent>[]): Promise<boolean> {
    const events = batch.map((s) => s.event);
    let status: number | null = null;
    let retryAfter: number | undefined;
    try {
      const json = encoder.encode(JSON.stringify({ sent_at: new Date().toISOString(), events }));
      const gzip = this.o.gzip && json.length >= this.o.gzipMinBytes;
      const body = gzip ? await this.platform.gzip(json) : json;
      const res = await (this.o.fetch ?? this.platform.fetch)(this.url, {
        method: 'POST',
        headers: { ...this.headers('application/json'), ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
        body: body as BodyInit,
        signal: AbortSignal.timeout(this.o.requestTimeoutMs),
      });
      status = res.status;
      retryAfter = retryAfterMs(res.headers.get('retry-after'));
      const answer = (await res.json().catch(() => ({}))) as AnswerBody;
      const verdict = verdictOf(res.status, events.length);
      if (verdict.kind === 'split') {
        this.cap = Math.max(1, Math.floor(events.length / 2));
        return false;
      }
      if (verdict.kind === 'done' || verdict.kind === 'refused') {
        this.answered(batch, res.status, answer, verdict.kind === 'refused');
        return false;
      }
    } catch (err) {
      // A network error, a timeout, a body we could not read: all retried. The events were not refused.
      if (status === null) this.o.onError?.(err);
    }
    const delayMs = backoffMs(this.attempt, this.backoff, retryAfter);
    this.o.onRetry?.({ attempt: this.attempt, delayMs, status, retryAfterMs: retryAfter, events: events.length });
    this.attempt++;
    this.counts.retries++;
    this.notBefore = retryAfter === undefined ? 0 : Date.now() + retryAfter;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delayMs);
    return true;
  }

  private answered(batch: Stored<CollectorEvent>[], status: number, answer: AnswerBody, refused: boolean): void {
    this.attempt = 0;
    this.cap = this.o.maxBatchEvents;
    this.queue.ack(batch[batch.length - 1]!.seq);
    const reject = (r: Rejection) => {
      this.counts.rejected++;
      try {
        this.o.onRejected?.(r);
      } catch (err) {
        this.o.onError?.(err);
      }
    };
    if (refused) {
      const e = answer.error ?? { code: `HTTP_${status}`, message: `answered ${status}` };
      for (const s of batch) reject({ event: s.event, status, reason: e.code, errors: [{ code: e.code, path: '', message: e.detail ?? e.message }] });
      return;
    }
    const dead = answer.dlq_events ?? [];
    for (const d of dead) {
      const event = batch[d.index]?.event;
      if (event) reject({ event, status, reason: d.reason, errors: d.errors });
    }
    this.counts.delivered += batch.length - dead.length;
  }
}
