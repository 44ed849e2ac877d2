"""Processes of the run: start each in its own session, kill -9 a whole tree, sample CPU and memory.

CPU and memory are read from /proc (psutil is not a dependency): a service's figures are those of
its process tree (a Celery worker is a parent and its pool children).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Service:
    """One named service; `restarts` keeps the processes it had before a kill."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_dir: Path
    cwd: Path
    process: subprocess.Popen | None = None
    started: list[float] = field(default_factory=list)
    cpu_seconds_done: float = 0.0  # CPU of earlier incarnations (killed or stopped)
    peak_rss: int = 0
    last_cpu: float = 0.0

    def start(self) -> None:
        index = len(self.started)
        out = (self.log_dir / f"{self.name}.{index}.log").open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill -9 takes the pool children too
        )
        out.close()
        self.started.append(time.time())
        self.last_cpu = 0.0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole process group, no clean-up, as an OOM killer or a power cut would."""
        if self.process is None:
            return
        self.cpu_seconds_done += self.last_cpu
        self.last_cpu = 0.0
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the group, then SIGKILL what is left after `timeout`."""
        if self.process is None:
            return
        self.cpu_seconds_done += self.last_cpu
        self.last_cpu = 0.0
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_seconds_done + self.last_cpu


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds incl. reaped children, RSS bytes) of one process, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    rss_pages = int(fields[21])
    return ppid, (utime + stime + cutime + cstime) / CLOCK_TICKS, rss_pages * PAGE_SIZE


def sample(services: list[Service]) -> None:
    """Update each service's CPU total and peak RSS from its current process tree."""
    table: dict[int, tuple[int, float, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    for service in services:
        root = service.pid
        if root is None or root not in table:
            continue
        tree, stack = [], [root]
        while stack:
            pid = stack.pop()
            tree.append(pid)
            stack.extend(children.get(pid, []))
        cpu = sum(table[pid][1] for pid in tree)
        rss = sum(table[pid][2] for pid in tree)
        service.last_cpu = max(service.last_cpu, cpu)
        service.peak_rss = max(service.peak_rss, rss)
