/**
 * The process's one Kafka producer (node-rdkafka must live on the main thread). It takes
 * packed records from the decode workers, produces them, and resolves a batch only when
 * every record has its delivery report — the acceptor answers 2xx on nothing less.
 */
import Kafka from 'node-rdkafka';
import type { LibrdKafkaError, DeliveryReport, MessageHeader } from 'node-rdkafka';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { recordValue, type PackedRecords } from '../codec/packed.js';
import { producerSettings } from './settings.js';

export interface RecordFailure {
  /** index of the record within the packed records */
  record: number;
  message: string;
  code: number;
}

export interface BatchDelivery {
  partitions: number[];
  failures: RecordFailure[];
}

/** Tracks one batch's outstanding delivery reports; it is the opaque of each message. */
class PendingBatch {
  remaining: number;
  readonly partitions = new Set<number>();
  readonly failures: RecordFailure[] = [];
  constructor(
    count: number,
    private readonly done: (d: BatchDelivery) => void,
  ) {
    this.remaining = count;
  }
  settle(): void {
    if (--this.remaining === 0) this.done({ partitions: [...this.partitions].sort((a, b) => a - b), failures: this.failures });
  }
}

interface Opaque {
  batch: PendingBatch;
  record: number;
}

export class EventProducer {
  private readonly producer: Kafka.Producer;
  private connected = false;
  private inFlight = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  /** set by the owner: every client-level error (e.g. all brokers down) goes through it */
  onClientError: ((code: number, message: string) => void) | undefined;

  constructor(
    config: Readonly<Config>,
    private readonly log: Logger,
  ) {
    const { global, topic } = producerSettings(config);
    this.producer = new Kafka.Producer(global, topic);
    this.producer.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => this.onReport(err, report));
    this.producer.on('event.error', (err: LibrdKafkaError) => {
      this.log.warn({ err: err.message, code: err.code }, 'kafka client error');
      this.onClientError?.(typeof err.code === 'number' ? err.code : -1, err.message);
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  connect(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.producer.connect({ timeout: timeoutMs }, (err) => {
        if (err) return reject(new Error(`kafka connect failed: ${err.message}`));
        this.connected = true;
        // A slow poll serves error events while idle; produce() switches to a fast one.
        this.pollTimer = setInterval(() => this.poll(), 100);
        this.pollTimer.unref();
        resolve();
      });
    });
  }

  private fastPoll: NodeJS.Timeout | undefined;

  private poll(): void {
    try {
      this.producer.poll();
    } catch {
      // Not connected: the disconnect path reports it.
    }
  }

  /** Delivery reports arrive only through poll(): poll every millisecond while any are due. */
  private ensureFastPoll(): void {
    if (this.fastPoll !== undefined) return;
    this.fastPoll = setInterval(() => {
      this.poll();
      if (this.inFlight === 0) {
        clearInterval(this.fastPoll);
        this.fastPoll = undefined;
      }
    }, 1);
  }

  /**
   * Produce every record; resolves when each has a delivery report (or failed to enqueue).
   * Never rejects: failures are per record, so the caller can decide per event.
   */
  send(topic: string, records: PackedRecords, headerNames: readonly string[], timestamp: number): Promise<BatchDelivery> {
    if (records.count === 0) return Promise.resolve({ partitions: [], failures: [] });
    return new Promise((resolve) => {
      const batch = new PendingBatch(records.count, resolve);
      for (let i = 0; i < records.count; i++) {
        const values = records.headers[i]!;
        const headers: MessageHeader[] = headerNames.map((name, h) => ({ [name]: values[h]! }));
        try {
          this.producer.produce(topic, null, recordValue(records, i), records.keys[i] ?? null, timestamp, { batch, record: i } satisfies Opaque, headers);
          this.inFlight++;
        } catch (err) {
          const e = err as LibrdKafkaError;
          batch.failures.push({ record: i, message: e.message, code: typeof e.code === 'number' ? e.code : -1 });
          batch.settle();
        }
      }
      if (this.inFlight > 0) this.ensureFastPoll();
    });
  }

  private onReport(err: LibrdKafkaError | null, report: DeliveryReport): void {
    this.inFlight--;
    const opaque = report.opaque as Opaque | undefined;
    if (!opaque) return;
    if (err) {
      opaque.batch.failures.push({ record: opaque.record, message: err.message, code: typeof err.code === 'number' ? err.code : -1 });
    } else {
      opaque.batch.partitions.add(report.partition);
    }
    opaque.batch.settle();
  }

  /** Wait until librdkafka's queue is empty or the timeout passes. */
  flush(timeoutMs: number): Promise<boolean> {
    if (!this.connected) return Promise.resolve(true);
    return new Promise((resolve) => this.producer.flush(timeoutMs, (err) => resolve(!err)));
  }

  /** Only after flush: node-rdkafka's disconnect drops still-queued messages without a report. */
  disconnect(): Promise<void> {
    clearInterval(this.pollTimer);
    clearInterval(this.fastPoll);
    if (!this.connected) return Promise.resolve();
    this.connected = false;
    return new Promise((resolve) => this.producer.disconnect(5000, () => resolve()));
  }
}
