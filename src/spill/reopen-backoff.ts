/**
 * When the owner thread may next reopen its own log after a write or fsync error (ENOSPC, EIO). After such an
 * error the page cache cannot be trusted, so the log is closed and opened again (recovery cuts the torn tail and
 * checks every record); a disk that stays bad is retried with a doubling delay instead of on every request.
 */
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

export class ReopenBackoff {
  /** after an I/O error: when the log may next be reopened, and the delay after that attempt fails */
  private next: { retryAt: number; backoffMs: number } | null = null;

  /** An I/O error happened since the last successful reopen: the log must not be used until reopened. */
  get broken(): boolean {
    return this.next !== null;
  }

  /** An I/O error: the log is broken; the first reopen is due after the shortest delay. */
  failed(): void {
    this.next = { retryAt: Date.now() + BACKOFF_MIN_MS, backoffMs: BACKOFF_MIN_MS * 2 };
  }

  /** True when the log can be used: it is not broken, or a reopen was due and `reopen` did not throw. */
  usable(reopen: () => void): boolean {
    const was = this.next;
    if (!was) return true;
    if (Date.now() < was.retryAt) return false;
    try {
      reopen();
      this.next = null;
      return true;
    } catch {
      this.next = { retryAt: Date.now() + was.backoffMs, backoffMs: Math.min(BACKOFF_MAX_MS, was.backoffMs * 2) };
      return false;
    }
  }
}
