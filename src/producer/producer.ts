/**
 * The process's one Kafka producer. It takes packed records from the decode workers,
 * produces a whole batch in one call into librdkafka (native/producer), and resolves the
 * batch only when every record has its delivery report — the acceptor answers 2xx on
 * nothing less. Reports are counted in C by a thread blocked in rd_kafka_poll(); one
 * callback per settled batch reaches JavaScript (no per-record objects, no poll timer).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { PackedRecords } from '../codec/packed.js';
import { producerSettings } from './settings.js';
import { LogThrottle } from '../telemetry/log-throttle.js';
import { confPairs, EV_BATCH, EV_ERROR, loadNativeProducer, type NativeFailure, type NativeProducer, type ProducerHandle } from './native.js';

export interface RecordFailure {
  /** index of the record within the packed records */
  record: number;
  message: string;
  code: number;
}

export interface BatchDelivery {
  partitions: number[];
  /** in record order */
  failures: RecordFailure[];
}

interface Pending {
  resolve: (d: BatchDelivery) => void;
  count: number;
  /** records librdkafka refused to enqueue */
  refused: NativeFailure[] | null;
}

/** One "kafka client error" line per error code per interval; repeats are counted on the next line. */
const CLIENT_ERROR_LOG_INTERVAL_MS = 10_000;

/** librdkafka's codes for a failed SASL authentication and a failed TLS handshake (rdkafka.h). */
const ERR__AUTHENTICATION = -169;
const ERR__SSL = -181;
const ERR_SASL_AUTHENTICATION_FAILED = 58;

/** The short reason health reports for an error that says the credentials or certificates are wrong. */
export function securityProblem(code: number, message: string): string | null {
  if (code === ERR__AUTHENTICATION || code === ERR_SASL_AUTHENTICATION_FAILED || /SASL authentication (error|failed)|authentication failed/i.test(message)) {
    return 'authentication failed';
  }
  if (code === ERR__SSL || /SSL handshake failed|certificate verify failed/i.test(message)) return 'TLS handshake failed';
  return null;
}

const toFailure = ([record, code, message]: NativeFailure): RecordFailure => ({ record, code, message });
const byRecord = (a: RecordFailure, b: RecordFailure) => a.record - b.record;

export class EventProducer {
  private readonly native: NativeProducer;
  private readonly handle: ProducerHandle;
  private connected = false;
  private closed = false;
  private nextId = 1;
  private inFlight = 0;
  private readonly pending = new Map<number, Pending>();
  /** set by the owner: every client-level error (e.g. all brokers down) goes through it */
  onClientError: ((code: number, message: string) => void) | undefined;
  private readonly errorLog = new LogThrottle(CLIENT_ERROR_LOG_INTERVAL_MS);
  /** why Kafka cannot be used, when librdkafka said so plainly (authentication, TLS); cleared on a connect */
  private problem: string | null = null;

  constructor(
    config: Readonly<Config>,
    private readonly log: Logger,
    /** the addon; a test may stand in for librdkafka's answers */
    native: NativeProducer = loadNativeProducer(),
  ) {
    this.native = native;
    const { global, topic } = producerSettings(config);
    // A bad property throws here, at boot, as node-rdkafka's constructor did.
    this.handle = this.native.create(confPairs(global), confPairs(topic), (kind, a, b, c) => {
      if (kind === EV_BATCH) this.settled(a, b as number[], c ?? null);
      else if (kind === EV_ERROR) this.clientError(a, b as string);
    });
  }

  /** Records handed to librdkafka and not yet reported on (admission reads it). */
  get queued(): number {
    return this.inFlight;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once a broker answered a metadata request; librdkafka keeps (re)connecting on its own. */
  async connect(timeoutMs = 10_000): Promise<void> {
    try {
      // The native close waits for this to return (librdkafka forbids destroying a client under a call).
      await this.native.connect(this.handle, timeoutMs);
    } catch (err) {
      throw new Error(`kafka connect failed: ${(err as Error).message}`);
    }
    this.connected = true;
    this.problem = null;
  }

  /** What librdkafka last said stops it reaching Kafka (health shows it while Kafka is unreachable). */
  get kafkaProblem(): string | null {
    return this.problem;
  }

  /** New SASL PLAIN/SCRAM credentials, used from the next authentication (credentials.ts). */
  setSaslCredentials(username: string, password: string): void {
    this.native.saslCredentials(this.handle, username, password);
  }

  /** Asks a broker for metadata: resolves when one answered within timeoutMs (the circuit's probe without a batch). */
  async probe(timeoutMs: number): Promise<void> {
    if (!this.connected) throw new Error('kafka probe: producer not connected');
    await this.native.connect(this.handle, timeoutMs);
    this.problem = null;
  }

  /**
   * Produce the records in order; resolves when each has a delivery report (or failed to enqueue: what such a
   * refusal holds back of the records after it is in native.ts). Never rejects: failures are per record, so the caller can
   * decide per event. `onRefused` is called before send returns when librdkafka refused records at once: a
   * caller that must keep later batches behind them (delivery.ts, replayer.ts) learns it before it offers the next.
   */
  send(topic: string, records: PackedRecords, headerNames: readonly string[], timestamp: number, onRefused?: (refused: readonly RecordFailure[]) => void): Promise<BatchDelivery> {
    if (records.count === 0) return Promise.resolve({ partitions: [], failures: [] });
    if (!this.connected) {
      const failures = Array.from({ length: records.count }, (_, record) => ({ record, code: -1, message: 'Producer not connected' }));
      return Promise.resolve({ partitions: [], failures });
    }
    return new Promise((resolve) => {
      const id = this.nextId++;
      // The batch settles through the callback, also when every record was refused at once.
      const refused = this.native.produce(this.handle, topic, records.bytes, records.offsets, records.count, records.keys,
        headerNames, records.headers, timestamp, id);
      this.pending.set(id, { resolve, count: records.count, refused });
      this.inFlight += records.count;
      if (refused && onRefused) onRefused(refused.map(toFailure));
      // Reports due keep the process alive (a script that produces and awaits must not exit early).
      if (this.pending.size === 1) this.native.ref(this.handle, true);
    });
  }

  private settled(id: number, partitions: number[], failed: NativeFailure[] | null): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.inFlight -= p.count;
    if (this.pending.size === 0 && !this.closed) this.native.ref(this.handle, false);
    const failures: RecordFailure[] = [];
    if (p.refused) for (const f of p.refused) failures.push(toFailure(f));
    if (failed) for (const f of failed) failures.push(toFailure(f));
    // In record order: the refused ones are the batch's tail and reports come as the partitions answer, but
    // what the caller keeps of them (the spill log) must keep the batch's order.
    if (failures.length > 1) failures.sort(byRecord);
    p.resolve({ partitions, failures });
  }

  private clientError(code: number, message: string): void {
    const problem = securityProblem(code, message);
    if (problem !== null) {
      // One clear line when it starts (not one per reconnect): librdkafka retries on its own, and a fixed
      // password (credentials.ts) or certificate is picked up at the next attempt.
      if (this.problem !== problem) this.log.error({ err: message, code }, `kafka ${problem}: events are kept in the spill log until it is fixed`);
      this.problem = problem;
    } else {
      // Every occurrence still reaches onClientError (the circuit); only the log line is throttled per code.
      this.errorLog.warn(this.log, code, { err: message, code }, 'kafka client error');
    }
    this.onClientError?.(code, message);
  }

  /** Wait until librdkafka holds no record (queued or in flight) or the timeout passes. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (!this.connected) return true;
    for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 5))) {
      if (this.native.outqLen(this.handle) === 0) return true;
      if (Date.now() >= end) return false;
    }
  }

  /** Only after flush: records still queued are dropped without a report. */
  async disconnect(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    await this.native.close(this.handle);
  }
}
