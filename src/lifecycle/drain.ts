/**
 * The order a process stops in (SIGTERM, SIGINT; src/lifecycle/shutdown.ts calls it): stop accepting; let gRPC
 * streams finish their batches; let every batch in flight finish (delivered, or spilled after SPILL_AFTER_MS at
 * most), with a short quiet window for requests already sent on kept-alive connections; stop the replay; then close
 * the rest, the producer flushed before it is disconnected — nothing acknowledged is only in librdkafka's queue:
 * every answered batch is in Kafka or on disk.
 */
const DRAIN_QUIET_MS = 500;

export interface DrainSteps {
  /** stop listening (HTTP); requests on open connections are still served */
  stopAccepting(): void;
  /** GOAWAY to gRPC connections; resolves when their open streams are done or out of grace */
  drainGrpc(): Promise<void>;
  collector: { idle(): Promise<void>; readonly pending: number };
  stopReplay(): Promise<void>;
  flushProducer(): Promise<void>;
  /** timers, watchers, files, the store, the pool: in the order given */
  close: (() => void | Promise<void>)[];
}

export async function drainInOrder(d: DrainSteps): Promise<void> {
  d.stopAccepting();
  const grpcDrained = d.drainGrpc();
  do {
    await d.collector.idle();
    await new Promise((r) => setTimeout(r, DRAIN_QUIET_MS));
  } while (d.collector.pending > 0);
  await grpcDrained;
  await d.collector.idle();
  await d.stopReplay();
  await d.flushProducer();
  for (const c of d.close) await c();
}
