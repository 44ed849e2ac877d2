"""An Elasticsearch *emulator* for the contract suite: noida-db (PyPI), started on a free port.

It exercises the real client, HTTP and request bodies end to end where no Elasticsearch can run,
but it answers as 8.15 and lacks some features (the percolator). It is never proof of real
Elasticsearch behaviour: the `elasticsearch` leg against ELASTICSEARCH_URL is.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search.backends.elasticsearch import ElasticsearchStore
from tests.support.servers import free_port, wait_for_port

# What the emulator cannot do, by contract test name → why it is skipped on the emulator leg.
UNSUPPORTED = {
    "test_match_subscriptions_filters_and_queries": "noida-db has no percolate query",
}


def noida_executable() -> str | None:
    """The packaged binary itself: the `noida-db` console script is a wrapper process that would
    outlive a terminate() sent to it."""
    try:
        from importlib.resources import files

        binary = Path(str(files("noida_db").joinpath("noida-db")))
    except ModuleNotFoundError:
        return None
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):  # as the package's own launcher does
        binary.chmod(0o755)
    return str(binary)


@contextmanager
def noida_elasticsearch(workdir: Path) -> Iterator[str]:
    """Start noida-db with only its Elasticsearch service; yield its URL; always stop it."""
    executable = noida_executable()
    if executable is None:
        raise RuntimeError("noida-db is not installed (pip install -e '.[dev]')")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            executable,
            "start",
            "--only",
            "elasticsearch",
            "--elasticsearch-port",
            str(port),
            "--host",
            "127.0.0.1",
            "--data-dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class EmulatedElasticsearchStore(ElasticsearchStore):
    """The real backend with one test-side difference: it accepts the emulator's 8.x version."""

    def _probe_version(self) -> None:
        with self._errors():
            self.es.info()
