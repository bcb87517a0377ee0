/**
 * Kubernetes-style probes, per process.
 *   GET /livez  — the process is not wedged: the event loop's worst lag over the last
 *                 LAG_WINDOW_MS is under LIVE_MAX_LAG_MS. (A fully blocked loop cannot answer
 *                 at all, so the probe times out; a loop that just came back from a long block
 *                 still reports it for a few seconds.)
 *   GET /readyz — the process can take batches: not stopping, and either Kafka is reachable
 *                 (producer connected, circuit closed) or the spill log has headroom (< 95 % full)
 *                 and no other replica reaches Kafka (src/shared-store/kafka-reach.ts: a replica
 *                 that would spill while others deliver is routed around, for order).
 */
import type { CircuitState } from '../producer/circuit.js';

export const LIVE_MAX_LAG_MS = 1000;
export const READY_MAX_SPILL_FILL = 0.95;
const TICK_MS = 100;
const LAG_WINDOW_MS = 5000;

/** Measures how late a 100 ms timer fires: the event loop's lag. */
export class LagMonitor {
  private readonly samples: { at: number; lag: number }[] = [];
  private expected = performance.now() + TICK_MS;
  private timer: NodeJS.Timeout | undefined;

  start(): this {
    this.expected = performance.now() + TICK_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.samples.push({ at: now, lag: Math.max(0, now - this.expected) });
      this.expected = now + TICK_MS;
      while (this.samples.length > 0 && now - this.samples[0]!.at > LAG_WINDOW_MS) this.samples.shift();
    }, TICK_MS).unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Worst lag (ms) in the window, including a timer that is overdue right now. */
  maxLagMs(): number {
    const now = performance.now();
    const overdue = this.timer ? Math.max(0, now - this.expected) : 0;
    return this.samples.reduce((m, s) => Math.max(m, s.lag), overdue);
  }
}

export interface ProbeBody {
  status: 'ok' | 'fail';
  [k: string]: unknown;
}

export function livez(lag: LagMonitor): { status: number; body: ProbeBody } {
  const worst = lag.maxLagMs();
  const ok = worst < LIVE_MAX_LAG_MS;
  return {
    status: ok ? 200 : 503,
    body: { status: ok ? 'ok' : 'fail', event_loop_lag_ms: Math.round(worst * 10) / 10, max_lag_ms: LIVE_MAX_LAG_MS },
  };
}

export interface ReadyInput {
  stopping: boolean;
  producerConnected: boolean;
  circuit: CircuitState;
  /** 0..1 */
  spillFill: number;
  /** another replica of the deployment reaches Kafka (from the shared store; false without one) */
  othersReachKafka?: boolean;
}

export function readyz(r: ReadyInput): { status: number; body: ProbeBody } {
  const kafka = r.producerConnected && r.circuit === 'closed';
  const headroom = r.spillFill < READY_MAX_SPILL_FILL;
  const ok = !r.stopping && (kafka || (headroom && !r.othersReachKafka));
  const reason = r.stopping
    ? 'stopping'
    : ok
      ? undefined
      : headroom
        ? 'kafka unreachable from this replica while other replicas reach it'
        : 'kafka unreachable and the spill log is full';
  return {
    status: ok ? 200 : 503,
    body: {
      status: ok ? 'ok' : 'fail',
      kafka_connected: r.producerConnected,
      circuit_state: r.circuit,
      spill_fill_percent: Math.round(r.spillFill * 1000) / 10,
      stopping: r.stopping,
      ...(reason ? { reason } : {}),
    },
  };
}
