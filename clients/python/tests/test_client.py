"""The Python client against the real collector and broker: a collector SIGKILLed and restarted
mid-flush, a 207 surfaced per event to on_rejected, close() draining the queue, a tenant over its
quota retried no sooner than Retry-After. What must be in Kafka is read back by the tap test
that runs this file (test/integration/clients/python.test.ts)."""
from __future__ import annotations

import time

from event_collector import Collector, Rejection, RetryInfo

from conftest import free_port, progress_event


def client(url: str, **kw) -> Collector:
    return Collector(url, tenant_id="tenant-py", source_service="python-test", max_batch_events=100, flush_interval=0.1, retry_base=0.05, retry_max=1.0, **kw)


def test_collector_restarted_mid_flush_loses_nothing(collector_factory, expect_in_kafka):
    port = free_port()
    c = collector_factory(port=port)
    rejected = []
    cl = client(c.url, on_rejected=rejected.append)
    ids = []
    for i in range(2000):
        ids.append(cl.track(progress_event(i, "restart"))["event_id"])
        if i == 700:
            c.kill()  # batches in flight, more queued
    assert cl.stats()["queued"] > 0
    time.sleep(0.5)
    collector_factory(port=port, buffer_dir=c.buffer_dir)
    assert cl.flush(90), cl.stats()
    assert cl.close(10)
    assert rejected == []
    assert cl.stats()["delivered"] == 2000
    expect_in_kafka(ids)


def test_207_reports_each_refused_event(collector_factory, expect_in_kafka):
    c = collector_factory()
    rejected: list[Rejection] = []
    cl = client(c.url, on_rejected=rejected.append)
    good = [cl.track(progress_event(i, "207")) for i in range(3)]
    bad = cl.track({**progress_event(3, "207"), "event_type": "teleport"})
    assert cl.flush(30)
    cl.close()
    assert len(rejected) == 1
    r = rejected[0]
    assert r.status == 207 and r.reason == "validation" and r.event["event_id"] == bad["event_id"]
    assert any(e["path"] == "/event_type" for e in r.errors), r.errors
    assert cl.stats()["delivered"] == 3
    expect_in_kafka(e["event_id"] for e in good)


def test_close_drains_the_queue(collector_factory, expect_in_kafka):
    c = collector_factory()
    # No timer flush within the test: only close() can send them.
    cl = Collector(c.url, tenant_id="tenant-py", source_service="python-test", max_batch_events=1000, flush_interval=3600)
    ids = [cl.track(progress_event(i, "close"))["event_id"] for i in range(999)]
    assert cl.stats()["queued"] == 999
    assert cl.close(30)
    s = cl.stats()
    assert (s["queued"], s["delivered"]) == (0, 999)
    expect_in_kafka(ids)


def test_quota_429_retried_no_sooner_than_retry_after(collector_factory, expect_in_kafka, tmp_path):
    quotas = tmp_path / "quotas.json"
    quotas.write_text('{"quotas": {"tenant-q": {"events_per_second": 100, "bytes_per_second": 0, "burst_seconds": 1}}}')
    c = collector_factory({"TENANT_QUOTAS_FILE": str(quotas), "QUOTA_PATH": str(tmp_path / "quota.table")})
    retries: list[RetryInfo] = []
    cl = client(c.url, on_retry=retries.append)
    ids = [cl.track({**progress_event(i, "quota"), "tenant_id": "tenant-q"})["event_id"] for i in range(600)]
    assert cl.flush(90)
    cl.close()
    throttled = [r for r in retries if r.status == 429]
    assert throttled, "over quota, the collector answered 429"
    assert all(r.retry_after is not None and r.retry_after >= 1 and r.delay >= r.retry_after for r in throttled)
    expect_in_kafka(ids)
