/** Public surface of the ordered replay of spilled batches into Kafka (docs/ARCHITECTURE.md "Host-wide order"). */
export { OrderHeads } from './heads.js';
export { HostTable, type OrderStamp, SLOTS, before, orderKey, recordedDurableLimit, stampNow } from './host-table.js';
export { type MergeLog, mergeChunk } from './merge.js';
export { ReplayLeadership } from './replay-lock.js';
export { Replayer, fitting, offerInOrder } from './replayer.js';
export { sweepStaleSlots } from './sweep.js';
