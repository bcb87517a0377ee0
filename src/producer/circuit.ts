/**
 * The circuit breaker in front of Kafka. Closed: batches go straight to the producer.
 * Open: they go to the spill log without touching Kafka, so requests during an outage
 * answer at disk speed. The replayer is the only prober: it sends the oldest spilled
 * batch (half-open) and closes the circuit when Kafka acknowledges it; with no batch to
 * send it asks a broker for metadata (replayer.ts probeIdle).
 *
 *   closed ──(all brokers down | a batch not acknowledged in time)──▶ open
 *   open ──(probe interval passed)──▶ half_open ──(probe acknowledged)──▶ closed
 *                                         └──────(probe failed)─────────▶ open
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export class Circuit {
  private _state: CircuitState;
  private openedAt = 0;
  private opens = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly probeIntervalMs: number,
    initial: CircuitState = 'open',
  ) {
    this._state = initial;
    if (initial === 'open') this.openedAt = Date.now();
  }

  get state(): CircuitState {
    return this._state;
  }

  get timesOpened(): number {
    return this.opens;
  }

  /** Whether new batches may go straight to Kafka. */
  get closed(): boolean {
    return this._state === 'closed';
  }

  trip(): void {
    if (this._state !== 'open') {
      this._state = 'open';
      this.openedAt = Date.now();
      this.opens++;
      for (const l of [...this.listeners]) l();
    } else {
      this.openedAt = Date.now();
    }
  }

  /** For the replayer: may it probe now? Moves open → half_open when the interval has passed. */
  tryProbe(): boolean {
    if (this._state === 'closed' || this._state === 'half_open') return true;
    if (Date.now() - this.openedAt < this.probeIntervalMs) return false;
    this._state = 'half_open';
    return true;
  }

  succeeded(): void {
    this._state = 'closed';
  }

  /** Calls fn when the circuit next opens; returns the unsubscribe (callers race it against a delivery). */
  onOpen(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
