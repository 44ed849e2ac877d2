"""Fixtures for the workers tests: multi-service settings on a real Redis, real `celery worker`
processes (prefork pool, so time limits and pool-child restarts are real), and helpers to wait
for the store to fill. Every worker is killed when its test ends.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from search import open_store
from shellwatch.config import Settings
from tests.support.servers import RedisServer
from workers.application import worker_command
from workers.context import close_contexts, process_context
from workers.periodic import settings_environment

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")

# Short limits so redelivery after a lost worker happens within seconds (see application.py).
FAULT_TIME_LIMIT = 6.0
FAULT_VISIBILITY = 9.0
NOTABLE_LOG = re.compile(r"level=(?:WARNING|ERROR|CRITICAL)|task\.gave_up|dead_letter|task\.retry")


@pytest.fixture(autouse=True)
def _fresh_contexts() -> Iterator[None]:
    """Each test gets its own process contexts (the store of a previous test's data dir is closed)."""
    yield
    close_contexts()


@pytest.fixture
def multi_settings(settings: Settings, redis: RedisServer) -> Settings:
    """Multi-service settings: the broker is the test's Redis, the store SQLite in the temp data dir."""
    return settings.model_copy(
        update={
            "redis_url": redis.url,
            "task_time_limit_seconds": FAULT_TIME_LIMIT,
            "visibility_timeout_seconds": FAULT_VISIBILITY,
        }
    )


class WorkerProcess:
    """A `celery -A workers.app worker` subprocess in its own process group."""

    def __init__(self, settings: Settings, name: str, log_path: Path, concurrency: int = 1):
        self.log_path = log_path
        environment = settings_environment(settings)
        environment["PYTHONPATH"] = str(ROOT)
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            worker_command(
                str(CELERY), concurrency=concurrency, loglevel="INFO", hostname=f"{name}@%h", quiet=True
            ),
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            if " ready." in self.log():
                return
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill9(self) -> None:
        """Kill the main process and its pool children at once, as a crash or OOM kill would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(
        settings: Settings, name: str = "w1", concurrency: int = 1, ready: bool = True
    ) -> WorkerProcess:
        worker = WorkerProcess(settings, name, tmp_path / f"worker-{name}.log", concurrency)
        started.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for_articles(
    settings: Settings, expected: int, timeout: float, worker: WorkerProcess | None = None
) -> int:
    """Poll the store until it holds `expected` articles; returns the count reached."""
    deadline = time.monotonic() + timeout
    count = 0
    with open_store(settings) as store:
        while time.monotonic() < deadline:
            count = store.count_articles()
            if count >= expected:
                return count
            time.sleep(0.1)
    message = f"{count} of {expected} articles stored after {timeout}s"
    # What a rare loss needs to be told apart: a message still queued or unacked (slow redelivery),
    # a dead letter (the crash guard or a retry policy gave up), or nothing anywhere (lost).
    try:
        backlog, unacked = process_context(settings).broker_backlog()
        message += f"\nbroker now: backlog {backlog}, unacked {unacked}"
    except Exception as exc:  # noqa: BLE001 - the diagnosis must not hide the failure
        message += f"\nbroker unreadable: {exc!r}"
    if worker is not None:
        log = worker.log()
        notable = [line for line in log.splitlines() if NOTABLE_LOG.search(line)]
        message += "\nwarnings and give-ups:\n" + "\n".join(notable[-20:])
        message += "\nlog tail:\n" + log[-4000:]
    raise AssertionError(message)
