/**
 * The client for Node: gzip by zlib, the offline queue in a file (queueFile), UUIDs from
 * node:crypto, the global fetch (Node 18+).
 */
import { randomUUID } from 'node:crypto';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Collector, type CollectorOptions } from './client.js';
import { memoryStore } from './queue.js';
import { fileStore } from './store-file.js';
import type { CollectorEvent } from './events.gen.js';

export * from './client.js';
export type * from './events.gen.js';

const gzipAsync = promisify(gzip);

export interface NodeCollectorOptions extends CollectorOptions {
  /** the offline queue's file: events survive a restart; absent: kept in memory only */
  queueFile?: string;
}

export function createCollector(options: NodeCollectorOptions): Collector {
  return new Collector(options, {
    gzip: async (body) => new Uint8Array(await gzipAsync(body)),
    store: () => (options.queueFile ? fileStore<CollectorEvent>(options.queueFile) : memoryStore<CollectorEvent>()),
    uuid: randomUUID,
    fetch: (...args) => fetch(...args),
  });
}
