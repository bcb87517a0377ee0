/**
 * Admission control for batches, per process, decided before a byte of the body is read.
 *
 * 1. Process limit — an adaptive concurrency limit (AIMD on queueing delay). Slots alone
 *    bound memory, not latency: 64 queued batches at ~80 batches/s is 0.8 s of waiting,
 *    so under a 10× overload every admitted request was late (p99 2.9 s measured). By
 *    Little's law a process needs only throughput × latency batches in flight, so the
 *    limit shrinks while recent batches wait longer than the target and grows back by one
 *    per window while it is the bottleneck and batches are fast. Past it: 503 + Retry-After.
 *    "Wait" is service time above the no-load service time (the lowest seen over the last
 *    BASELINE_WINDOWS windows), as in TCP Vegas: a Kafka 50 ms away makes every batch slow
 *    without any queue here, and must not pin the limit to its floor.
 * 2. Client limits (optional, off by default) — in-flight requests and a token bucket of
 *    requests/s per client key (remote address, or a header set by the operator's proxy).
 *    Past them: 429 + Retry-After, so one noisy client cannot take the whole process.
 *
 * Service time is measured from the body being complete to the answer: a client that
 * uploads slowly must not shrink everybody's limit.
 *
 * CPU starvation is not queueing. On a shared box every batch can take 5× its no-load time
 * while only a few are in flight: the cores are busy with other processes (or our own worker
 * and librdkafka threads), and a smaller limit only refuses requests without making the admitted
 * faster (measured at max-100 on a loaded box: 4,021 refusals for the same p99 as no limit). So each service
 * time is divided by the main thread's CPU stretch over its window (run + run-queue wait over
 * run, src/acceptor/cpu-contention.ts) before it is judged: what is left is the time
 * the batch would have taken with a core always free, and it grows with our own queue (each
 * batch waits for the work of those ahead of it) but not with the neighbours' load. The
 * baseline is kept in the same units.
 *
 * Demand turned away while batches are fast is growth at once. Growing by one per window took
 * 1.5 s to climb from 16 to the 32 connections a process had in the bench's 1-event scenario, and
 * every one of its 7,352 refusals came in that climb (the batches took ~3 ms against a 20 ms
 * target). So a saturated window whose batches all but finished within half the target grows the
 * limit by the requests it refused, at most doubling it; one that merely met the target grows by one.
 * Under overload batches are never that fast, and the limit moves as before.
 *
 * Nor is a stall. When the broker or the whole box pauses (a GC, a descheduled process), every
 * batch in flight is late at once while the answer rate collapses; our own queue delays batches
 * while answers keep coming at capacity. A window answering at under half the recent rate is
 * judged neither way (measured with 1-event requests: 400 ms stalls cut the limit from ~55 to
 * 16 several times a run, and 64 connections then met two refusals per answer).
 */
import { stretchBetween, type CpuCounterSource, type CpuCounters } from './cpu-contention.js';
import type { RefusalReason } from '../errors.js';

export interface AdmissionOptions {
  /** service time the limit steers to (ms) */
  targetMs: number;
  /** never admit more than this (the slab's slots) */
  maxLimit: number;
  /** never shrink below this: the throughput floor when every batch is slow (Kafka slow, not down) */
  minLimit: number;
  /** per client: requests in flight; 0 = no limit */
  clientMaxInFlight: number;
  /** per client: requests/s (burst: one second's worth); 0 = no limit */
  clientRatePerS: number;
  /** clients remembered at most; the idle ones are forgotten first */
  maxClients?: number;
  now?: () => number;
  /** the main thread's scheduler counters; absent: service times are judged as measured (stretch 1) */
  cpu?: CpuCounterSource;
  /** judge stalled windows neither way (default true) */
  holdStalls?: boolean;
}

export type Refusal = { reason: RefusalReason; retryAfterS: number };

export interface Ticket {
  readonly client: ClientState | null;
  settled: boolean;
}

interface ClientState {
  inFlight: number;
  tokens: number;
  refilledAt: number;
}

const WINDOW_MIN_MS = 100;
const WINDOW_MIN_SAMPLES = 10;
const WINDOW_MAX_SAMPLES = 1024;
const BASELINE_WINDOWS = 20;
const DECREASE = 0.75;
/** more than this share of a window's batches over the target shrinks the limit */
const LATE_SHARE = 0.1;
/** a window with at most LATE_SHARE of its batches over baseline + this share of the target has headroom */
const HEADROOM_SHARE = 0.5;
/** a window answering at under this share of the smoothed answer rate is a stall, judged neither way */
const STALL_SHARE = 0.5;

export class Admission {
  private limitValue: number;
  private inFlightValue = 0;
  private readonly clients = new Map<string, ClientState>();
  private readonly maxClients: number;
  private readonly now: () => number;
  // the current window
  private windowStart: number;
  private samples = 0;
  /** the window's service times as measured (judged at its end, against its own CPU stretch) */
  private readonly window = new Float64Array(WINDOW_MAX_SAMPLES);
  /** the lowest service time of each recent window: their minimum is the no-load service time */
  private readonly minima: number[] = [];
  private saturated = false;
  /** requests refused as overloaded in the current window: the demand a fast window grows by */
  private refused = 0;
  /** batches answered per second, smoothed over windows (for Retry-After) */
  private drainPerS = 0;
  /** CPU stretch of the last window judged */
  private stretchValue = 1;
  private cpuAtWindowStart: CpuCounters | null = null;

  constructor(private readonly opts: AdmissionOptions) {
    if (opts.minLimit < 1 || opts.minLimit > opts.maxLimit) throw new RangeError('admission: need 1 ≤ minLimit ≤ maxLimit');
    this.now = opts.now ?? (() => performance.now());
    this.maxClients = opts.maxClients ?? 10_000;
    // Start in the middle: a cold process neither refuses its first burst nor queues 64 deep.
    this.limitValue = Math.max(opts.minLimit, Math.min(opts.maxLimit, 16));
    this.windowStart = this.now();
    this.cpuAtWindowStart = opts.cpu?.() ?? null;
  }

  get limit(): number {
    return this.limitValue;
  }

  get inFlight(): number {
    return this.inFlightValue;
  }

  /** A ticket to settle exactly once, or why not. */
  admit(clientKey: string): Ticket | Refusal {
    const client = this.clientLimited ? this.clientState(clientKey) : null;
    if (client) {
      if (this.opts.clientMaxInFlight > 0 && client.inFlight >= this.opts.clientMaxInFlight) {
        return { reason: 'client_in_flight', retryAfterS: 1 };
      }
      if (this.opts.clientRatePerS > 0) {
        this.refill(client);
        if (client.tokens < 1) {
          return { reason: 'client_rate', retryAfterS: Math.max(1, Math.ceil((1 - client.tokens) / this.opts.clientRatePerS)) };
        }
      }
    }
    if (this.inFlightValue >= this.limitValue) {
      this.saturated = true;
      this.refused++;
      return { reason: 'overloaded', retryAfterS: this.retryAfter() };
    }
    if (client) {
      client.inFlight++;
      if (this.opts.clientRatePerS > 0) client.tokens -= 1;
    }
    this.inFlightValue++;
    if (this.inFlightValue >= this.limitValue) this.saturated = true;
    return { client, settled: false };
  }

  /**
   * The request is over. serviceMs is body-complete → answer for a batch that went
   * through the pipeline; undefined when it never got that far (aborted, bad body).
   */
  settle(ticket: Ticket, serviceMs?: number): void {
    if (ticket.settled) return;
    ticket.settled = true;
    this.inFlightValue--;
    if (ticket.client) ticket.client.inFlight--;
    if (serviceMs !== undefined) this.observe(serviceMs);
  }

  /** (run + wait) / run of the main thread over the last window: 1 on a quiet box (metrics, tests) */
  get stretch(): number {
    return this.stretchValue;
  }

  private observe(ms: number): void {
    this.window[this.samples++] = ms;
    const now = this.now();
    const elapsed = now - this.windowStart;
    // A window is long enough to judge when it has both time and enough samples that one
    // late batch (a GC pause, a noisy neighbour) is under LATE_SHARE of it; a full sample
    // buffer closes it early (tens of thousands of small requests per second).
    const enough = this.samples >= Math.max(WINDOW_MIN_SAMPLES, Math.min(this.limitValue, 32));
    if ((elapsed < WINDOW_MIN_MS || !enough) && this.samples < WINDOW_MAX_SAMPLES) return;
    // The window's own stretch, read once at its end: samples are judged in CPU-free time.
    if (this.opts.cpu) {
      const cpu = this.opts.cpu();
      this.stretchValue = stretchBetween(this.cpuAtWindowStart, cpu);
      this.cpuAtWindowStart = cpu;
    }
    // late ⇔ measured / stretch > baseline + target; the baseline excludes this window (0 at first: a strict start)
    const lateAbove = (this.baselineMs + this.opts.targetMs) * this.stretchValue;
    const slowAbove = (this.baselineMs + this.opts.targetMs * HEADROOM_SHARE) * this.stretchValue;
    let late = 0;
    let slow = 0;
    let fastest = Infinity;
    for (let i = 0; i < this.samples; i++) {
      const v = this.window[i]!;
      if (v > lateAbove) late++;
      if (v > slowAbove) slow++;
      if (v < fastest) fastest = v;
    }
    const rate = (this.samples * 1000) / Math.max(1, elapsed);
    // A stall, not a queue: answers came at under half the recent rate (the broker or the whole box
    // paused — a GC, a descheduled process). Our own queue keeps the answer rate at capacity while it
    // delays them; when the rate collapses, a smaller limit would not make the stalled work faster.
    const stalled = this.opts.holdStalls !== false && this.drainPerS > 0 && rate < this.drainPerS * STALL_SHARE;
    this.drainPerS = this.drainPerS === 0 ? rate : this.drainPerS * 0.7 + rate * 0.3;
    if (stalled) {
      // hold: neither shrink nor grow on a window that says nothing about our queue
    } else if (late > this.samples * LATE_SHARE) {
      this.limitValue = Math.max(this.opts.minLimit, Math.floor(this.limitValue * DECREASE));
    } else if (this.saturated) {
      // Only grow while the limit is what holds requests back: an idle process keeps its limit. With headroom
      // (a baseline of 0 before the first window gives none), by the demand refused, at most doubling.
      const headroom = this.minima.length > 0 && slow <= this.samples * LATE_SHARE;
      const step = headroom ? Math.max(1, Math.min(this.limitValue, this.refused)) : 1;
      this.limitValue = Math.min(this.opts.maxLimit, this.limitValue + step);
    }
    this.minima.push(fastest / this.stretchValue);
    if (this.minima.length > BASELINE_WINDOWS) this.minima.shift();
    this.windowStart = now;
    this.samples = 0;
    this.refused = 0;
    this.saturated = this.inFlightValue >= this.limitValue;
  }

  /** No-load service time: the lowest of recent windows (0 before the first window, so the start is strict). */
  get baselineMs(): number {
    let min = Infinity;
    for (const m of this.minima) if (m < min) min = m;
    return min === Infinity ? 0 : min;
  }

  /** Seconds until the work in flight has drained at the recent answer rate (1–30). */
  private retryAfter(): number {
    if (this.drainPerS <= 0) return 1;
    return Math.min(30, Math.max(1, Math.ceil(this.inFlightValue / this.drainPerS)));
  }

  private get clientLimited(): boolean {
    return this.opts.clientMaxInFlight > 0 || this.opts.clientRatePerS > 0;
  }

  private refill(c: ClientState): void {
    const now = this.now();
    const rate = this.opts.clientRatePerS;
    c.tokens = Math.min(rate, c.tokens + ((now - c.refilledAt) * rate) / 1000);
    c.refilledAt = now;
  }

  private clientState(key: string): ClientState {
    let c = this.clients.get(key);
    if (c) {
      // Map order is insertion order: re-inserting keeps the most recently seen last.
      this.clients.delete(key);
      this.clients.set(key, c);
      return c;
    }
    if (this.clients.size >= this.maxClients) this.forgetIdle();
    c = { inFlight: 0, tokens: this.opts.clientRatePerS, refilledAt: this.now() };
    this.clients.set(key, c);
    return c;
  }

  /**
   * Bounded memory whatever the number of client keys: drop the least recently seen
   * clients that hold nothing. A forgotten client comes back with a full bucket, so
   * forgetting is only ever generous; clients with requests in flight are kept.
   */
  private forgetIdle(): void {
    const target = Math.floor(this.maxClients * 0.9);
    for (const [key, c] of this.clients) {
      if (this.clients.size <= target) break;
      if (c.inFlight === 0) this.clients.delete(key);
    }
  }

  /** clients currently remembered (metrics, tests) */
  get clientCount(): number {
    return this.clients.size;
  }
}

export function isRefusal(r: Ticket | Refusal): r is Refusal {
  return 'reason' in r;
}
