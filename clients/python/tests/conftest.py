"""The real collector for the tests: node dist/src/main.js against the broker the tap run
started (test/integration/clients/python.test.ts passes it in the environment), as test/helpers/collector.ts
runs one. Ids of events a test expects in Kafka are appended to EVENT_COLLECTOR_EXPECT; the tap
test reads them back from Kafka (0 lost, 0 written twice, in order per learner)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import pytest

ENV = ("EVENT_COLLECTOR_MAIN", "EVENT_COLLECTOR_BOOTSTRAP", "EVENT_COLLECTOR_TOPIC", "EVENT_COLLECTOR_DLQ", "EVENT_COLLECTOR_EXPECT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningCollector:
    def __init__(self, env: Dict[str, str], port: Optional[int] = None, buffer_dir: Optional[str] = None) -> None:
        self.port = port or free_port()
        self.buffer_dir = buffer_dir or tempfile.mkdtemp(prefix="pycollector-")
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "RunningCollector":
        env = {
            **os.environ,
            "HOST": "127.0.0.1", "PORT": str(self.port), "BUFFER_DIR": self.buffer_dir, "RUN_DIR": self.buffer_dir + "-run",
            "DEDUP_PATH": os.path.join(self.buffer_dir, "dedup.table"), "DEDUP_CAPACITY": "65536", "SCHEMA_DIR": "off",
            "SPILL_AFTER_MS": "30000", "GRPC_PORT": "0", "LOG_LEVEL": "warn",
            "KAFKA_BOOTSTRAP_SERVERS": os.environ["EVENT_COLLECTOR_BOOTSTRAP"],
            "KAFKA_TOPIC": os.environ["EVENT_COLLECTOR_TOPIC"], "DLQ_TOPIC": os.environ["EVENT_COLLECTOR_DLQ"],
            **self.env,
        }
        self.proc = subprocess.Popen(["node", os.environ["EVENT_COLLECTOR_MAIN"]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("collector not healthy after 60 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(45)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def collector_factory():
    missing = [k for k in ENV if not os.environ.get(k)]
    if missing:
        pytest.skip(f"{', '.join(missing)} unset: run through npm test (test/integration/clients/python.test.ts starts the broker)")
    started: List[RunningCollector] = []

    def start(env: Optional[Dict[str, str]] = None, **kw) -> RunningCollector:
        c = RunningCollector(env or {}, **kw).start()
        started.append(c)
        return c

    yield start
    for c in started:
        c.stop()


@pytest.fixture
def expect_in_kafka():
    def record(ids: Iterable[str]) -> None:
        with open(os.environ["EVENT_COLLECTOR_EXPECT"], "a") as f:
            for i in ids:
                f.write(json.dumps(i) + "\n")
    return record


def progress_event(i: int, group: str, learners: int = 20) -> dict:
    """Event i of a test's own learners (`group`): metadata.seq is its track order."""
    return {"learner_id": f"{group}-learner-{i % learners}", "event_type": "progress", "event_data": {"lesson": "fractions", "percent": i % 101}, "metadata": {"seq": i}}
