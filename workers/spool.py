"""The on-disk spool: articles the broker could not take, kept until it can.

One JSON file per article, named by the article id (spooling twice keeps one file), written to a
temporary name and renamed so a crash never leaves half a file. `drain` hands each file to a
submit function and deletes it only after the hand-off succeeded; an exclusive `flock` keeps two
processes from draining at once. Files that no longer parse are moved to `rejected/`, counted and
logged, never silently dropped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from shellwatch.domain import Article, from_json, to_json
from workers.logs import kv

log = logging.getLogger(__name__)


@dataclass
class DrainResult:
    submitted: int = 0
    rejected: int = 0
    remaining: int = 0
    skipped: bool = False  # another process holds the spool
    error: Exception | None = None  # why the drain stopped early


class Spool:
    def __init__(self, directory: Path):
        self.directory = directory

    def put(self, article: Article) -> Path:
        """Write the article atomically; returns its file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{article.id}.json"
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".incoming-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(to_json(article))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def pending(self) -> list[Path]:
        """Spooled article files, oldest first."""
        try:
            entries = [entry for entry in os.scandir(self.directory) if entry.name.endswith(".json")]
        except FileNotFoundError:
            return []
        entries.sort(key=lambda entry: entry.stat().st_mtime)
        return [Path(entry.path) for entry in entries]

    def __len__(self) -> int:
        return len(self.pending())

    def drain(self, submit: Callable[[Article], None]) -> DrainResult:
        """Submit every spooled article; stop at the first failure (the broker is still down).

        `submit` raises when the article could not be handed off; its file then stays.
        """
        result = DrainResult()
        with self._exclusive() as acquired:
            if not acquired:
                result.skipped = True
                return result
            files = self.pending()
            for index, path in enumerate(files):
                try:
                    article = from_json(Article, path.read_bytes())
                except FileNotFoundError:
                    continue  # drained by a process that did not take the lock (older spool users)
                except (ValidationError, ValueError, UnicodeDecodeError) as exc:
                    self._reject(path, exc)
                    result.rejected += 1
                    continue
                try:
                    submit(article)
                except Exception as exc:  # the hand-off failed: keep this and the rest for later
                    result.remaining = len(files) - index
                    result.error = exc
                    break
                path.unlink(missing_ok=True)
                result.submitted += 1
        return result

    def _reject(self, path: Path, exc: Exception) -> None:
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True)
        os.replace(path, rejected / path.name)
        log.error(kv("spool.rejected", file=path.name, error=f"{type(exc).__name__}: {exc}"))

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
