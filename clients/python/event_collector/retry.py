"""What an answer means for the batch that got it, and how long to wait before trying again.

    network error, 408, 429, 5xx  -> retry, same events (same event_id: the collector's dedup
                                     makes a retry of a batch it did write harmless)
    413 of more than one event    -> split: retry with half the events
    2xx, 422                      -> done; refused events (207, 422) go to on_rejected
    any other 4xx                 -> refused: every event goes to on_rejected, never retried

The same table as the TypeScript client (clients/js/src/retry.ts).
"""
from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import Optional


def verdict_of(status: int, events: int) -> str:
    if 200 <= status < 300 or status == 422:
        return "done"
    if status in (408, 429) or status >= 500:
        return "retry"
    if status == 413 and events > 1:
        return "split"
    return "refused"


def retry_after_seconds(header: Optional[str]) -> Optional[float]:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if header is None or header.strip() == "":
        return None
    try:
        s = float(header)
        return s if s >= 0 else None
    except ValueError:
        pass
    try:
        at = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, (at - datetime.now(timezone.utc)).total_seconds())


def backoff_seconds(attempt: int, base: float, maximum: float, retry_after: Optional[float], rand=random.random) -> float:
    """Exponential backoff with full jitter; never below Retry-After (a little jitter above it)."""
    if retry_after is not None:
        return retry_after + rand() * min(1.0, retry_after * 0.2)
    return rand() * min(maximum, base * (2 ** min(attempt, 30)))
