/**
 * librdkafka as native/producer reports it, stood in for per produce() call: the records it refuses
 * at once (returned by produce(), with the rest of the batch held back behind the first, as the addon
 * does), the records whose reports fail (timed out), and when the reports come. Everything above the
 * addon (EventProducer, the deliverer, the replayer) runs for real on top of it.
 */
import { EV_BATCH, type NativeFailure, type NativeProducer, type ProducerHandle } from '../../src/producer/native.js';

export const QUEUE_FULL = -184;
export const TIMED_OUT = -192;

export interface CallScript {
  /** the first record refused at once (queue full); it and every record after it come back from produce() */
  refuseFrom?: number;
  /** records enqueued whose reports say timed out */
  fail?: number[];
  /** when the batch's reports come (default: the next turn of the event loop) */
  reportAfterMs?: number;
}

export interface StandIn {
  native: NativeProducer;
  /** per produce() call: the topic and how many records were offered */
  offered: { topic: string; count: number }[];
}

/** `scripts[i]` answers the i-th produce() call; calls past the list are delivered whole. */
export function standInProducer(scripts: CallScript[]): StandIn {
  let onEvent: Parameters<NativeProducer['create']>[2] = () => {};
  const offered: StandIn['offered'] = [];
  const native: NativeProducer = {
    librdkafkaVersion: 'stand-in',
    create: (_g, _t, cb) => {
      onEvent = cb;
      return {} as ProducerHandle;
    },
    connect: async () => {},
    saslCredentials: () => {},
    produce: (_h, topic, _bytes, _offsets, count, _keys, _names, _headers, _ts, id) => {
      const s = scripts[offered.length] ?? {};
      offered.push({ topic, count });
      const refused: NativeFailure[] = [];
      if (s.refuseFrom !== undefined) for (let i = s.refuseFrom; i < count; i++) refused.push([i, QUEUE_FULL, 'Local: Queue full']);
      const failed: NativeFailure[] = (s.fail ?? []).map((i) => [i, TIMED_OUT, 'Local: Message timed out']);
      const delivered = count - refused.length - failed.length;
      const report = () => onEvent(EV_BATCH, id, delivered > 0 ? [0] : [], failed.length ? failed : null);
      if (s.reportAfterMs) setTimeout(report, s.reportAfterMs);
      else setImmediate(report);
      return refused.length ? refused : null;
    },
    outqLen: () => 0,
    configValue: () => null,
    ref: () => {},
    close: async () => {},
  };
  return { native, offered };
}
