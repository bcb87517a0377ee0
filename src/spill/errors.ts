/**
 * Errors of the disk spill log. These never reach an HTTP client directly (the
 * owner worker maps them), so they live apart from the HTTP registry in
 * src/errors.ts; the codes are stable so the owner can branch on them.
 */
export const SPILL_ERRORS = {
  /** append would push the bytes on disk past maxBytes; nothing of the batch was written. */
  COLLECTOR_ERR_SPILL_FULL: 'The spill log is full; nothing of the batch was written',
  /** another live process (or another thread of this one) holds the directory's lock. */
  COLLECTOR_ERR_SPILL_LOCKED: 'The spill directory is locked by a live owner',
  /** a record failed its checksum when read back after open; reopen to recover around it. */
  COLLECTOR_ERR_SPILL_CORRUPT: 'A spilled record failed its checksum when read',
  /**
   * A write or fsync failed. The batch was not acknowledged. The instance refuses
   * further work because after a failed fsync the page cache state is unknowable;
   * close and reopen (recovery checks every record) to go on.
   */
  COLLECTOR_ERR_SPILL_IO: 'A spill write or fsync failed; the batch was not stored',
  COLLECTOR_ERR_SPILL_CLOSED: 'The spill log is closed',
  COLLECTOR_ERR_SPILL_INVALID_ARG: 'Invalid argument to the spill log',
} as const;

export type SpillErrorCode = keyof typeof SPILL_ERRORS;

export class SpillError extends Error {
  readonly code: SpillErrorCode;
  readonly detail: string | undefined;

  constructor(code: SpillErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${SPILL_ERRORS[code]}: ${detail}` : SPILL_ERRORS[code], options);
    this.name = 'SpillError';
    this.code = code;
    this.detail = detail;
  }
}

export function isSpillError(err: unknown, code?: SpillErrorCode): err is SpillError {
  return err instanceof SpillError && (code === undefined || err.code === code);
}
