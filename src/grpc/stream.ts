/**
 * CollectStream: each request message is a batch, each answer comes back in request order.
 *
 * Bounded per stream: at most GRPC_STREAM_MAX_IN_FLIGHT batches are in the pipeline or
 * waiting for their answer to be written; at the bound the call is paused, grpc-js stops
 * reading the HTTP/2 stream and flow control holds the client. A client that stops reading its
 * answers makes call.write() report a full buffer: the stream is then paused too until 'drain',
 * so the process never holds more than the bound (plus the readable buffer) per stream.
 * A bad batch is answered on the stream (outcome REFUSED with its error) and the stream goes on.
 * A cancelled stream stops writing; its batches already in the pipeline finish there (their
 * admission places are given back when the pipeline is done), and none is answered: an
 * unanswered batch is an unacknowledged one.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { BatchIngest, CallAccess, CollectResponse, IngestResult } from './ingest.js';

export interface StreamOptions {
  maxInFlight: number;
  clientKey: string;
  /** the call's key, checked before each batch is decoded (AUTH_MODE=api_key) */
  access?: CallAccess;
  /** each answer written (telemetry) */
  answered: (r: IngestResult, ms: number) => void;
}

export function streamAnswer(r: IngestResult): CollectResponse {
  return r.ok ? r.response : { batch_id: r.batchId, outcome: 'OUTCOME_REFUSED', error: r.error };
}

interface Pending {
  result: IngestResult | null;
  startedAt: number;
}

export function serveStream(call: ServerDuplexStream<Buffer, CollectResponse>, ingest: BatchIngest, opts: StreamOptions): Promise<void> {
  const queue: Pending[] = [];
  let inputEnded = false;
  let gone = false;
  let waitingDrain = false;
  let paused = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  const flow = () => {
    const full = queue.length >= opts.maxInFlight || waitingDrain;
    if (full && !paused) {
      call.pause();
      paused = true;
    } else if (!full && paused && !gone) {
      paused = false;
      call.resume();
    }
  };

  const pump = () => {
    if (gone) return;
    while (!waitingDrain && queue.length > 0 && queue[0]!.result !== null) {
      const p = queue.shift()!;
      opts.answered(p.result!, performance.now() - p.startedAt);
      if (!call.write(streamAnswer(p.result!))) {
        waitingDrain = true;
        call.once('drain', () => {
          waitingDrain = false;
          pump();
        });
      }
    }
    if (inputEnded && queue.length === 0 && !waitingDrain) {
      gone = true;
      call.end();
      finish();
      return;
    }
    flow();
  };

  const leave = () => {
    if (gone) return;
    gone = true;
    queue.length = 0;
    finish();
  };

  call.on('data', (message: Buffer) => {
    if (gone) return;
    const p: Pending = { result: null, startedAt: performance.now() };
    queue.push(p);
    flow();
    void ingest.run(message, opts.clientKey, p.startedAt, opts.access).then((r) => {
      p.result = r;
      pump();
    });
  });
  call.on('end', () => {
    inputEnded = true;
    pump();
  });
  call.on('cancelled', leave);
  call.on('error', leave);
  call.on('close', leave);
  return finished;
}
