"""Throughput and latency of the whole pipeline (analyse → store → incidents → alerts) through
Celery on Redis with 1 and 2 worker processes, against the same work done in-process (embedded
mode), in the same run.

    .venv/bin/python bench/workers_bench.py            # 200 articles per run (about 2 minutes)
    .venv/bin/python bench/workers_bench.py --full     # 1000 articles per run

Articles are the demo newsroom's real texts (demo/content), each given a distinct URL so every one
is a new article. Two measurements per configuration:
- burst: every article handed off at once; articles/s from the first hand-off to the last stored;
- paced: articles handed off at a steady rate well below capacity; latency from hand-off to stored
  (p50, p95), read from the workers' own latency metric (`handoff_latency_seconds`).
A fresh data directory and Redis per configuration; the analyzer is loaded before timing starts.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search import open_store  # noqa: E402
from shellwatch.config import Settings, load_settings  # noqa: E402
from shellwatch.domain import Article, Language  # noqa: E402
from tests.support.servers import RedisServer  # noqa: E402
from workers.application import worker_command  # noqa: E402
from workers.context import close_contexts, process_context  # noqa: E402
from workers.handoff import submit_article  # noqa: E402
from workers.periodic import settings_environment  # noqa: E402

CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Figures:
    label: str
    articles: int
    seconds: float
    p50: float
    p95: float

    @property
    def per_second(self) -> float:
        return self.articles / self.seconds


def demo_articles(count: int) -> list[Article]:
    """`count` articles cycling through demo/content, each with its own canonical URL."""
    texts = []
    for path in sorted((ROOT / "demo" / "content").glob("*/*.md")):
        _, front, body = path.read_text(encoding="utf-8").split("---", 2)
        meta = yaml.safe_load(front)
        language = Language.ZH if CJK.search(meta["title"]) else Language.EN
        texts.append((path.parent.name, language, meta["title"], body.strip()))
    articles = []
    for index in range(count):
        source, language, title, body = texts[index % len(texts)]
        url = f"https://{source}.bench.example/{index}.html"
        articles.append(
            Article(
                url=url,
                canonical_url=url,
                source=source,
                language=language,
                title=title,
                text=body,
                fetched_at=datetime.now(UTC),
            )
        )
    return articles


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def in_process(settings: Settings, burst: list[Article], paced: list[Article]) -> Figures:
    context = process_context(settings)
    context.analyzer, context.knowledge_base, context.store  # noqa: B018 - load before timing
    started = time.perf_counter()
    for article in burst:
        submit_article(settings, article)
    seconds = time.perf_counter() - started
    latencies = []
    for article in paced:
        begin = time.perf_counter()
        submit_article(settings, article)
        latencies.append(time.perf_counter() - begin)
    close_contexts()
    return Figures(
        "in-process (embedded mode)",
        len(burst),
        seconds,
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
    )


def through_celery(
    settings: Settings, workdir: Path, processes: int, burst: list[Article], paced: list[Article], rate: float
) -> Figures:
    redis = RedisServer(workdir / "redis")
    redis.start()
    settings = settings.model_copy(update={"redis_url": redis.url})
    log_path = workdir / "worker.log"
    environment = settings_environment(settings) | {"PYTHONPATH": str(ROOT)}
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            worker_command(
                str(Path(sys.executable).with_name("celery")),
                concurrency=processes,
                loglevel="WARNING",
                quiet=True,
            ),
            cwd=ROOT,
            env=environment | {"SHELLWATCH_LOG_LEVEL": "WARNING"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        warm = _wait_warm(settings, processes, log_path)  # articles already stored
        context = process_context(settings)
        started = time.perf_counter()
        for article in burst:
            submit_article(settings, article)
        _wait_stored(settings, warm + len(burst), log_path)
        seconds = time.perf_counter() - started
        _wait_counted(context, warm + len(burst))  # the last store task records its metrics last
        context.metrics.reset()
        interval = 1.0 / rate
        for article in paced:
            submit_article(settings, article)
            time.sleep(interval)
        _wait_stored(settings, warm + len(burst) + len(paced), log_path)
        _wait_counted(context, len(paced))
        latencies = context.metrics.recent("handoff_latency_seconds")
        assert len(latencies) == len(paced), (len(latencies), len(paced))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        close_contexts()
        redis.stop()
    noun = "process" if processes == 1 else "processes"
    return Figures(
        f"Celery on Redis, {processes} worker {noun}",
        len(burst),
        seconds,
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
    )


def _wait_warm(settings: Settings, processes: int, log_path: Path) -> int:
    """Until every pool process has loaded the analyzer (a probe article per process is stored)."""
    probes = []
    for article in demo_articles(processes * 2):
        url = article.url.replace(".bench.", ".warm-up.")
        probes.append(Article(**{**article.model_dump(exclude={"id"}), "url": url, "canonical_url": url}))
    for article in probes:
        submit_article(settings, article)
    _wait_stored(settings, len(probes), log_path, timeout=120)
    return len(probes)


def _wait_counted(context, expected: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    # The latency is the last figure a store task records.
    while _latency_count(context) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not count every stored article")
        time.sleep(0.02)


def _latency_count(context) -> int:
    state = context.metrics.snapshot().histograms.get(("handoff_latency_seconds", ()))
    return state.count if state else 0


def _wait_stored(settings: Settings, expected: int, log_path: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    with open_store(settings) as store:
        while time.monotonic() < deadline:
            if store.count_articles() >= expected:
                return
            time.sleep(0.05)
    raise RuntimeError(f"not all {expected} articles stored in {timeout}s:\n{log_path.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=200, help="articles per burst (default 200)")
    parser.add_argument("--full", action="store_true", help="1000 articles per burst")
    parser.add_argument("--paced", type=int, default=40, help="articles in the paced latency run")
    parser.add_argument("--rate", type=float, default=5.0, help="paced hand-offs per second")
    args = parser.parse_args()
    count = 1000 if args.full else args.articles
    articles = demo_articles(count + args.paced)
    burst, paced = articles[:count], articles[count:]

    results = []
    for label in ("in-process", 1, 2):
        with tempfile.TemporaryDirectory(prefix="shellwatch-bench-") as directory:
            workdir = Path(directory)
            os.environ.pop("REDIS_URL", None)
            settings = load_settings().model_copy(
                update={"data_dir": workdir / "data", "log_level": "WARNING"}
            )
            settings.ensure_data_dir()
            if label == "in-process":
                results.append(in_process(settings, burst, paced))
            else:
                results.append(through_celery(settings, workdir, label, burst, paced, args.rate))
        print(f"done: {results[-1].label}", file=sys.stderr)

    print(
        f"\n{count} articles per burst, {args.paced} paced at {args.rate:g}/s; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n"
    )
    print("| configuration | articles/s (burst) | hand-off → stored p50 | p95 |")
    print("|---|---:|---:|---:|")
    for figures in results:
        print(
            f"| {figures.label} | {figures.per_second:.1f} | {figures.p50 * 1000:.0f} ms | "
            f"{figures.p95 * 1000:.0f} ms |"
        )
    baseline = results[0].per_second
    print(
        "\nspeed relative to in-process: "
        + ", ".join(f"{r.label}: {r.per_second / baseline:.2f}x" for r in results[1:])
    )
    if statistics.fmean(r.p50 for r in results) <= 0:
        raise SystemExit("no latency measured")


if __name__ == "__main__":
    main()
