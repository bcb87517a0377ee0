/**
 * The client for browsers: gzip by CompressionStream, the offline queue in IndexedDB, and a
 * last flush when the page goes away.
 *
 * Page close: on `pagehide` (and when the page is hidden, the last moment mobile browsers
 * promise) the head of the queue is sent with fetch(…, {keepalive: true}), which outlives the
 * page; its body must fit the 64 KiB keepalive budget, and it is plain JSON because gzip here
 * is asynchronous. Without an API key it is sent as text/plain, which needs no CORS preflight;
 * where fetch cannot keep a request alive, navigator.sendBeacon sends the same text/plain body
 * (a beacon cannot carry an API key). The events stay queued: the next page sends them again
 * and the collector's dedup writes them once.
 */
import { Collector, type CollectorOptions } from './client.js';
import { memoryStore } from './queue.js';
import { indexedDbStore } from './store-indexeddb.js';
import type { CollectorEvent } from './events.gen.js';

export * from './client.js';
export type * from './events.gen.js';

/** Chromium's and the Fetch standard's limit on the bodies of keepalive requests in flight. */
export const KEEPALIVE_BUDGET_BYTES = 64 * 1024;

export interface BrowserCollectorOptions extends CollectorOptions {
  /** the IndexedDB database of the offline queue; false: memory only */
  queue?: string | false;
}

async function gzip(body: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([body as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** crypto.randomUUID exists only in secure contexts; getRandomValues everywhere. */
function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function createCollector(options: BrowserCollectorOptions): Collector {
  const queue = options.queue ?? 'event-collector';
  const canGzip = typeof CompressionStream === 'function';
  const collector = new Collector({ ...options, gzip: (options.gzip ?? true) && canGzip }, {
    gzip,
    store: () => (queue !== false && typeof indexedDB !== 'undefined' ? indexedDbStore<CollectorEvent>(queue) : memoryStore<CollectorEvent>()),
    uuid,
    fetch: (...args) => fetch(...args),
  });
  const keyed = options.apiKey !== undefined;
  const lastFlush = () => {
    const body = collector.unloadBody(KEEPALIVE_BUDGET_BYTES);
    if (body === null) return;
    try {
      void fetch(collector.endpointUrl, {
        method: 'POST', keepalive: true, body,
        headers: collector.headers(keyed ? 'application/json' : 'text/plain'),
      }).catch(() => {});
    } catch {
      if (!keyed && typeof navigator.sendBeacon === 'function') navigator.sendBeacon(collector.endpointUrl, new Blob([body], { type: 'text/plain' }));
    }
  };
  addEventListener('pagehide', lastFlush);
  addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') lastFlush();
  });
  addEventListener('online', () => collector.retryNow());
  return collector;
}
