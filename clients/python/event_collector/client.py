"""The collector client for Python services: track() fills in what an event lacks and queues it;
one background thread sends batches from the head of the queue (by count, bytes, or every
flush_interval seconds), gzips them, and retries them until the collector answers for them
(event_collector/retry.py says what each answer means).

Standard library only (http.client, gzip, json, threading): nothing to install beside it, no
version conflict with the service's own HTTP stack, and one keep-alive connection is all a
single sender thread needs.

The queue is in memory, bounded by count and bytes: when full, the new event is dropped,
counted (stats()["dropped"]) and passed to on_dropped. close(timeout) sends what it can within
the timeout; what is left when the process exits is lost (the TypeScript client keeps a file).
"""
from __future__ import annotations

import gzip as gzip_module
import http.client
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .retry import backoff_seconds, retry_after_seconds, verdict_of

MAX_EVENTS = 1000


@dataclass
class Rejection:
    """An event the collector refused (dead-lettered, or its whole batch refused): not retried."""
    event: Dict[str, Any]
    status: int
    #: dead-letter reason (validation, too_large, tenant_forbidden, poison_pill) or the batch's error code
    reason: str
    errors: List[Dict[str, str]] = field(default_factory=list)


@dataclass
class RetryInfo:
    attempt: int
    delay: float
    status: Optional[int]
    retry_after: Optional[float]
    events: int


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Collector:
    def __init__(
        self,
        endpoint: str,
        *,
        api_key: Optional[str] = None,
        tenant_id: Optional[str] = None,
        source_service: Optional[str] = None,
        max_batch_events: int = 100,
        max_batch_bytes: int = 512 * 1024,
        flush_interval: float = 1.0,
        gzip: bool = True,
        gzip_min_bytes: int = 1024,
        retry_base: float = 0.5,
        retry_max: float = 30.0,
        request_timeout: float = 30.0,
        max_queue_events: int = 10_000,
        max_queue_bytes: int = 10 * 1024 * 1024,
        on_rejected: Optional[Callable[[Rejection], None]] = None,
        on_dropped: Optional[Callable[[Dict[str, Any]], None]] = None,
        on_retry: Optional[Callable[[RetryInfo], None]] = None,
        on_error: Optional[Callable[[BaseException], None]] = None,
    ) -> None:
        if not 1 <= max_batch_events <= MAX_EVENTS:
            raise ValueError(f"max_batch_events must be from 1 to {MAX_EVENTS}")
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port or (443 if self._https else 80)
        self._path = url.path.rstrip("/") + "/api/v1/collect"
        self._api_key = api_key
        self._tenant_id = tenant_id
        self._source_service = source_service
        self._max_events = max_batch_events
        self._max_bytes = max_batch_bytes
        self._interval = flush_interval
        self._gzip = gzip
        self._gzip_min = gzip_min_bytes
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._timeout = request_timeout
        self._max_queue_events = max_queue_events
        self._max_queue_bytes = max_queue_bytes
        self._on_rejected = on_rejected
        self._on_dropped = on_dropped
        self._on_retry = on_retry
        self._on_error = on_error

        self._queue: Deque[Tuple[Dict[str, Any], int]] = deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._flush_wanted = False
        self._closing = False
        self._close_deadline = float("inf")
        self._sending = False
        self._cap = max_batch_events
        #: consecutive retries of the head batch: the backoff's exponent
        self._attempt = 0
        self._conn: Optional[http.client.HTTPConnection] = None
        self._counts = {"delivered": 0, "rejected": 0, "dropped": 0, "retries": 0}
        self._thread = threading.Thread(target=self._run, name="event-collector-sender", daemon=True)
        self._thread.start()

    # --- the application's side -------------------------------------------------------------

    def track(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """Queues an event, filling event_id, timestamp, tenant_id and source_service when absent; returns it."""
        e = dict(event)
        e.setdefault("event_id", str(uuid.uuid4()))
        e.setdefault("timestamp", _now_rfc3339())
        if self._tenant_id is not None:
            e.setdefault("tenant_id", self._tenant_id)
        if self._source_service is not None:
            e.setdefault("source_service", self._source_service)
        size = len(json.dumps(e, separators=(",", ":")).encode())
        with self._cond:
            if self._closing:
                raise RuntimeError("the collector client is closed")
            if len(self._queue) >= self._max_queue_events or self._queued_bytes + size > self._max_queue_bytes:
                self._counts["dropped"] += 1
                dropped = True
            else:
                dropped = False
                self._queue.append((e, size))
                self._queued_bytes += size
                if len(self._queue) >= self._max_events or self._queued_bytes >= self._max_bytes:
                    self._cond.notify_all()
        if dropped and self._on_dropped:
            self._on_dropped(e)
        return e

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything queued; True when the queue is empty (retries included) within the timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_wanted = True
            self._cond.notify_all()
            while self._queue or self._sending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float = 10.0) -> bool:
        """Sends what is queued within the timeout, then stops the thread. True when nothing was left."""
        with self._cond:
            self._closing = True
            self._close_deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join(timeout + 1.0)
        if self._conn is not None:
            self._conn.close()
        with self._cond:
            return not self._queue

    def stats(self) -> Dict[str, int]:
        with self._cond:
            return {"queued": len(self._queue), "queued_bytes": self._queued_bytes, **self._counts}

    # --- the sender thread --------------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic() + self._interval
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    if self._closing and (not self._queue or now >= self._close_deadline):
                        self._cond.notify_all()
                        return
                    if not self._queue:
                        self._flush_wanted = False
                        self._cond.notify_all()  # flush() waiters
                        self._cond.wait(self._interval)
                        next_flush = time.monotonic() + self._interval
                        continue
                    full = len(self._queue) >= self._max_events or self._queued_bytes >= self._max_bytes
                    if self._closing or self._flush_wanted or full or now >= next_flush:
                        break
                    self._cond.wait(next_flush - now)
                batch = self._head()
                self._sending = True
            try:
                delay = self._send(batch)
            finally:
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()
            next_flush = time.monotonic() + self._interval
            if delay is not None:
                self._sleep(delay)

    def _head(self) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        size = 0
        for e, n in self._queue:
            if len(out) >= self._cap or (out and size + n > self._max_bytes):
                break
            out.append(e)
            size += n
        return out

    def _sleep(self, seconds: float) -> None:
        """Waits out a retry delay; only the end of close()'s timeout cuts it short."""
        end = time.monotonic() + seconds
        with self._cond:
            while True:
                now = time.monotonic()
                if now >= end or (self._closing and now >= self._close_deadline):
                    return
                self._cond.wait(min(end, self._close_deadline) - now)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _send(self, batch: List[Dict[str, Any]]) -> Optional[float]:
        """One request; the retry delay in seconds, or None when the batch is settled."""
        body = json.dumps({"sent_at": _now_rfc3339(), "events": batch}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self._gzip and len(body) >= self._gzip_min:
            body = gzip_module.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        status: Optional[int] = None
        retry_after: Optional[float] = None
        try:
            conn = self._connection()
            conn.request("POST", self._path, body=body, headers=headers)
            res = conn.getresponse()
            status = res.status
            retry_after = retry_after_seconds(res.getheader("Retry-After"))
            raw = res.read()
            if res.getheader("Connection", "").lower() == "close":
                self._drop_connection()
            try:
                answer = json.loads(raw) if raw else {}
            except ValueError:
                answer = {}
            verdict = verdict_of(status, len(batch))
            if verdict == "split":
                self._cap = max(1, len(batch) // 2)
                return None
            if verdict in ("done", "refused"):
                self._settle(batch, status, answer, verdict == "refused")
                return None
        except (OSError, http.client.HTTPException) as err:
            # A network error or a timeout: retried. The events were not refused.
            self._drop_connection()
            if self._on_error:
                self._on_error(err)
        delay = backoff_seconds(self._attempt, self._retry_base, self._retry_max, retry_after)
        if self._on_retry:
            self._on_retry(RetryInfo(self._attempt, delay, status, retry_after, len(batch)))
        with self._cond:
            self._attempt += 1
            self._counts["retries"] += 1
        return delay

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _settle(self, batch: List[Dict[str, Any]], status: int, answer: Dict[str, Any], refused: bool) -> None:
        rejections: List[Rejection] = []
        if refused:
            err = answer.get("error") or {"code": f"HTTP_{status}", "message": f"answered {status}"}
            message = err.get("detail") or err.get("message", "")
            rejections = [Rejection(e, status, err.get("code", ""), [{"code": err.get("code", ""), "path": "", "message": message}]) for e in batch]
        else:
            for d in answer.get("dlq_events") or []:
                i = d.get("index")
                if isinstance(i, int) and 0 <= i < len(batch):
                    rejections.append(Rejection(batch[i], status, d.get("reason", ""), d.get("errors") or []))
        with self._cond:
            self._attempt = 0
            self._cap = self._max_events
            for _ in batch:
                _, n = self._queue.popleft()
                self._queued_bytes -= n
            self._counts["rejected"] += len(rejections)
            self._counts["delivered"] += len(batch) - len(rejections)
            self._cond.notify_all()
        for r in rejections:
            if self._on_rejected:
                try:
                    self._on_rejected(r)
                except Exception as err:  # a callback's failure must not stop delivery
                    if self._on_error:
                        self._on_error(err)
