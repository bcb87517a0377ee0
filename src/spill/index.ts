/** Public surface of the disk spill log; see log.ts for the format and invariants. */
export { SpillLog, type SpillLogOptions, type SpillStats, type SpillFaultPoint, type RecoveryReport, type SpillRecord } from './log.js';
export { adoptOrphans } from './orphans.js';
export { SpillError, isSpillError, SPILL_ERRORS, type SpillErrorCode } from './errors.js';
export { type SpilledBatch, decodeSpilledBatch } from './batch-codec.js';
export { SpillClient } from './client.js';
export { errnoCode } from './fsutil.js';
export { type LockHandle, abandonLock, acquireLock, lockState, releaseLock } from './lock.js';
export { holdsUnacked } from './orphans.js';
export { HeldLogs, type HeldLogsOptions } from './held-logs.js';
export { GroupCommit } from './group-commit.js';
export { HostLogView, type HostLogPeek } from './host-log-view.js';
export { failureReply, type SpillReply, type SpillRequest, type SpillWireRecord, type SpillWorkerData } from './protocol.js';
