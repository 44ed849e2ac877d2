"""The end-to-end run: newsroom → crawler → Redis → two Celery workers → SQLite store → webhook.

    .venv/bin/python -m bench.e2e.run                 # the full run (make e2e), ~10 minutes
    .venv/bin/python -m bench.e2e.run --short         # what tests/e2e runs in CI, ~3 minutes

Every service is its own process on 127.0.0.1: the test newsroom (bench/e2e/newsroom.py), a real
redis-server, the crawler (`python -m crawlers.run`, continuous), two `celery -A workers.app
worker` processes, `celery -A workers.app beat`, the API (`shellwatch serve`) and the webhook
receiver (bench/e2e/receiver.py) of a subscription made with `shellwatch subscribe`.

The newsroom first publishes a backlog at once (throughput: how fast the system drains it), then
a story every 1/rate seconds. Faults, one after the other, each followed by the check that every
story published so far is stored exactly once (the syndicated copy folded into its original) and
that every alert the store recorded arrived exactly once at the receiver with a valid signature:
kill -9 of a worker, kill -9 of the crawler, Redis restarted, the store locked, the receiver down,
a burst of malformed pages. Results go to `<workdir>/results.json`; `--markdown` prints the
BENCHMARKS.md figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.e2e.corpus import Story, check_corpus, stories
from bench.e2e.procs import Service, sample

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
VENV_BIN = Path(sys.executable).parent


@dataclass
class Config:
    backlog: int = 600  # stories already in the feeds when the run starts
    rate: float = 4.0  # stories per second afterwards
    copy_every: int = 8  # one story in 8 is republished by an aggregator (转载)
    crawl_interval_minutes: int = 0  # 0: a new crawl pass 1 s after the previous one
    worker_concurrency: int = 2
    task_time_limit: int = 60
    visibility_timeout: int = 120
    worker_down: float = 5.0  # seconds between kill -9 of a worker and its restart
    crawler_down: float = 5.0
    redis_down: float = 10.0
    store_locked: float = 30.0
    receiver_down: float = 60.0
    malformed_burst: int = 140
    gap: float = 30.0  # seconds of normal running before each fault
    converge_timeout: float = 100.0  # per check
    final_timeout: float = 420.0
    wait_for_lease: bool = False  # final check waits for URLs the crawl frontier's lease still holds
    max_stories: int = 3300

    @classmethod
    def short(cls) -> Config:
        return cls(
            backlog=60,
            rate=1.5,
            task_time_limit=20,
            visibility_timeout=35,
            worker_down=2.0,
            crawler_down=2.0,
            redis_down=4.0,
            store_locked=10.0,
            receiver_down=15.0,
            malformed_burst=35,
            gap=3.0,
            converge_timeout=60.0,
            final_timeout=60.0,
            max_stories=900,
        )


@dataclass
class Check:
    after: str
    at: float  # seconds since start when the fault ended
    published: int  # stories published when the fault ended (the ones this check covers)
    converged_after: float | None  # seconds until every one was stored and alerted; None: timed out
    missing_articles: int = 0
    duplicated_articles: int = 0
    missing_alerts: int = 0
    duplicated_alerts: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:g}s")


def http(method: str, url: str, timeout: float = 10.0) -> bytes:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
        return response.read()


class Run:
    def __init__(self, workdir: Path, config: Config, log=print):
        self.workdir = workdir
        self.config = config
        self.log = log
        self.data_dir = workdir / "data"
        self.logs = workdir / "logs"
        self.services: dict[str, Service] = {}
        self.redis = None
        self.samples: list[dict[str, Any]] = []
        self.checks: list[Check] = []
        self.faults: list[dict[str, Any]] = []
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        self.t0 = 0.0
        self.lock = threading.RLock()  # services are started and killed by the faults and the supervisor
        self.unplanned_exits: list[dict[str, Any]] = []
        self.dead_letters: list[dict[str, Any]] = []
        self.known_lost: set[int] = set()  # missing when an earlier check gave up: counted there

    # Set-up ---------------------------------------------------------------------------------------
    def prepare(self) -> None:
        from tests.support.servers import RedisServer

        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.logs.mkdir(parents=True)
        self.data_dir.mkdir()
        config = self.config
        self.stories: list[Story] = stories(config.max_stories, copy_every=config.copy_every)
        started = time.monotonic()
        problems = check_corpus(self.stories)
        self.corpus_check = {"stories": len(self.stories), "seconds": round(time.monotonic() - started, 1)}
        if problems:
            raise RuntimeError(f"{len(problems)} stories do not raise exactly one allegation: {problems[:5]}")
        self.log(
            f"corpus: {len(self.stories)} stories, each raises exactly one allegation (analyzer checked)"
        )

        self.redis = RedisServer(self.workdir / "redis")
        self.redis.start()
        self.ports = {name: free_port() for name in ("newsroom", "receiver", "api")}
        base = f"http://127.0.0.1:{self.ports['newsroom']}"
        self.base = base
        sources = {
            "sources": [
                {
                    "name": "kejibao",
                    "language": "zh",
                    "feeds": [f"{base}/kejibao/rss.xml"],
                    "allow": ["/kejibao/article/"],
                    "interval_minutes": config.crawl_interval_minutes,
                },
                {
                    "name": "ledger",
                    "language": "en",
                    "feeds": [f"{base}/ledger/atom.xml"],
                    "allow": ["/ledger/article/"],
                    "interval_minutes": config.crawl_interval_minutes,
                },
                {
                    "name": "zhuanzai",
                    "language": "zh",
                    "feeds": [f"{base}/zhuanzai/rss.xml"],
                    "allow": ["/zhuanzai/article/"],
                    "interval_minutes": config.crawl_interval_minutes,
                },
                {
                    "name": "wire",
                    "language": "en",
                    "feeds": [f"{base}/wire/rss.xml"],
                    "allow": ["/wire/article/"],
                    "interval_minutes": config.crawl_interval_minutes,
                },
            ]
        }
        (self.workdir / "sources.yaml").write_text(json.dumps(sources, ensure_ascii=False), encoding="utf-8")
        # Each story is one outlet's allegation about its own model, and the run checks that each is
        # stored and alerted exactly once through the faults: so any single claim opens its incident
        # here. The corroboration policy itself is tested in tests/search.
        opening = self.workdir / "incident_opening.yaml"
        opening.write_text(
            json.dumps({"corroborating_sources": 1, "confident_claim": 0.8, "confident_response": 0.35}),
            encoding="utf-8",
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SHELLWATCH_", "SMTP_", "ELASTICSEARCH_", "WEBHOOK_", "REDIS_URL"))
        }
        env.update(
            {
                "SHELLWATCH_DATA_DIR": str(self.data_dir),
                "REDIS_URL": self.redis.url,
                "SHELLWATCH_SOURCES": str(self.workdir / "sources.yaml"),
                "SHELLWATCH_INCIDENT_OPENING": str(opening),
                "SHELLWATCH_PUBLIC_URL": f"http://127.0.0.1:{self.ports['api']}",
                "SHELLWATCH_LOG_LEVEL": "INFO",
                "WEBHOOK_ALLOW": "127.0.0.1",
                "WEBHOOK_TIMEOUT_SECONDS": "5",
                "SHELLWATCH_TASK_TIME_LIMIT": str(config.task_time_limit),
                "SHELLWATCH_VISIBILITY_TIMEOUT": str(config.visibility_timeout),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        self.env = env
        subscribed = subprocess.run(
            [
                str(VENV_BIN / "shellwatch"),
                "subscribe",
                "--name",
                "e2e: every new allegation",
                "--webhook",
                f"http://127.0.0.1:{self.ports['receiver']}/hook",
                "--json",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if subscribed.returncode != 0:
            raise RuntimeError(f"shellwatch subscribe failed: {subscribed.stderr[-2000:]}")
        subscription = json.loads(subscribed.stdout)
        self.subscription_id = subscription["id"]
        (self.workdir / "secret").write_text(subscription["secret"], encoding="utf-8")
        self.receipts = self.workdir / "receipts.jsonl"

        self.t0 = time.time() + 1.0
        plan = {
            "start": self.t0,
            "copy_delay": 5.0,
            "stories": [s.to_dict() for s in self.stories],
            "at": [
                0.0 if s.number < config.backlog else (s.number - config.backlog + 1) / config.rate
                for s in self.stories
            ],
        }
        self.publish_at = {s.number: self.t0 + at for s, at in zip(self.stories, plan["at"], strict=True)}
        (self.workdir / "plan.json").write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")

        def service(name: str, command: list[str], extra: dict[str, str] | None = None) -> Service:
            svc = Service(name, command, {**env, **(extra or {})}, self.logs, ROOT)
            self.services[name] = svc
            return svc

        from workers.application import worker_command

        celery = str(VENV_BIN / "celery")
        service(
            "newsroom",
            [
                PY,
                "-m",
                "bench.e2e.newsroom",
                "--plan",
                str(self.workdir / "plan.json"),
                "--port",
                str(self.ports["newsroom"]),
            ],
        )
        service(
            "receiver",
            [
                PY,
                "-m",
                "bench.e2e.receiver",
                "--port",
                str(self.ports["receiver"]),
                "--secret-file",
                str(self.workdir / "secret"),
                "--log",
                str(self.receipts),
            ],
        )
        for index in (1, 2):
            service(
                f"worker{index}",
                worker_command(
                    celery,
                    concurrency=config.worker_concurrency,
                    loglevel="INFO",
                    hostname=f"e2e-worker{index}@%h",
                ),
            )
        service(
            "beat",
            [
                celery,
                "-A",
                "workers.app",
                "beat",
                "--schedule",
                str(self.data_dir / "celerybeat-schedule"),
                "--loglevel",
                "INFO",
            ],
            # The crawler process is the one crawler; beat schedules delivery retries, summaries and
            # the spool flush (as in docker-compose.yml).
            {"SHELLWATCH_BEAT_CRAWL": "false"},
        )
        service("api", [str(VENV_BIN / "shellwatch"), "serve", "--port", str(self.ports["api"])])
        service(
            "crawler",
            [
                PY,
                "-m",
                "crawlers.run",
                "--sources",
                str(self.workdir / "sources.yaml"),
                # The newsroom is ours, on 127.0.0.1: no politeness delay (documented).
                "--set",
                "DOWNLOAD_DELAY=0",
                "--set",
                "AUTOTHROTTLE_ENABLED=False",
                "--set",
                "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            ],
        )

    def start(self) -> None:
        for name in ("newsroom", "receiver", "worker1", "worker2", "beat", "api"):
            self.services[name].start()
        wait_for_port(self.ports["newsroom"])
        wait_for_port(self.ports["receiver"])
        wait_for_port(self.ports["api"], timeout=120)
        self._wait_workers_ready()
        self._sampler = threading.Thread(target=self._sample_loop, daemon=True)
        self._sampler.start()
        while time.time() < self.t0:
            time.sleep(0.05)
        self.services["crawler"].start()
        self.log(f"all services up; publishing from t0 (backlog {self.config.backlog})")

    def _wait_workers_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = 0
            for name in ("worker1", "worker2"):
                logs = sorted(self.logs.glob(f"{name}.*.log"))
                if logs and b" ready." in logs[-1].read_bytes():
                    ready += 1
            if ready == 2:
                return
            for name in ("worker1", "worker2", "beat", "api"):
                if not self.services[name].alive():
                    raise RuntimeError(f"{name} exited early; see {self.logs}")
            time.sleep(0.5)
        raise TimeoutError("the workers did not report ready")

    def stop(self) -> None:
        """Stop everything this run started; a second Ctrl-C or SIGTERM cannot cut this short."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self._stop_all()
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _stop_all(self) -> None:
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join(timeout=10)
        for svc in self.services.values():
            try:
                svc.stop(timeout=10)
            except Exception as exc:  # noqa: BLE001 - tear everything down regardless
                self.log(f"stopping {svc.name}: {exc!r}")
        if self.redis is not None:
            self.redis.stop()

    # Observation ------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() - self.t0

    def _sample_loop(self) -> None:
        import redis as redis_client

        from workers.application import QUEUES, UNACKED_KEY, queue_keys

        client = redis_client.Redis.from_url(self.redis.url, socket_timeout=1, socket_connect_timeout=1)
        while not self._stop_sampling.wait(1.0):
            with self.lock:
                sample([svc for svc in self.services.values()])
                self._supervise()
            row: dict[str, Any] = {"t": round(self.now(), 1)}
            try:
                pipe = client.pipeline(transaction=False)
                for queue in QUEUES:
                    for key in queue_keys(queue):
                        pipe.llen(key)
                pipe.hlen(UNACKED_KEY)
                counts = pipe.execute()
                index = 0
                for queue in QUEUES:
                    width = len(queue_keys(queue))
                    row[queue] = sum(counts[index : index + width])
                    index += width
                row["unacked"] = counts[-1]
            except Exception:  # noqa: BLE001 - Redis is down during its fault
                row["redis_down"] = True
            spool = self.data_dir / "spool"
            row["spooled"] = len(list(spool.glob("*.json"))) if spool.exists() else 0
            self.samples.append(row)

    def _supervise(self) -> None:
        """Restart a service that exited on its own, as the deployment's `restart: unless-stopped` does."""
        for svc in self.services.values():
            if svc.process is not None and svc.process.poll() is not None:
                code = svc.process.returncode
                self.unplanned_exits.append(
                    {"service": svc.name, "t": round(self.now(), 1), "exit_code": code}
                )
                self.log(f"supervisor: {svc.name} exited with {code} on its own; restarting it")
                svc.cpu_seconds_done += svc.last_cpu
                svc.last_cpu = 0.0
                svc.process = None
                svc.start()

    def published(self) -> dict[str, Any]:
        return json.loads(http("GET", f"{self.base}/_control/published"))

    def receipts_now(self) -> list[dict[str, Any]]:
        if not self.receipts.exists():
            return []
        lines = self.receipts.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def store_state(self) -> tuple[list[str], list[dict[str, Any]]]:
        """Stored article ids and the subscription's recorded alerts, read through the store API."""
        from search.backends.sqlite import SqliteStore

        store = SqliteStore(self.data_dir / "shellwatch.sqlite3", lock_timeout=30)
        try:
            ids = [item.id for item in store.iter_articles()]
            self.dead_letters = [
                {"task": letter.task, "error": letter.error[:300]} for letter in store.list_dead_letters()
            ]
            alerts = [
                {
                    "id": a.id,
                    "article_id": a.article_id,
                    "subject": a.claim.subject_name,
                    "created_at": a.created_at.timestamp(),
                }
                for a in store.list_alerts(self.subscription_id, limit=1_000_000)
            ]
        finally:
            store.close()
        return ids, alerts

    def evaluate(self, numbers: list[int]) -> dict[str, Any]:
        """Who of these stories is stored exactly once, and is every recorded alert delivered once."""

        # Receipts first: every alert delivered by then was recorded before it was sent, so the store
        # read after them holds it. Read the other way round, an alert recorded and delivered between
        # the two reads looks like a receipt for an alert the store never recorded.
        lines = self.receipts_now()
        ids, alerts = self.store_state()
        stored = Counter(ids)
        by_story = self._story_keys()
        owner = {key: number for number, keys in by_story.items() for key in keys}
        missing_articles = [n for n in numbers if sum(stored[k] for k in by_story[n]) == 0]
        duplicated_articles = [n for n in numbers if sum(stored[k] for k in by_story[n]) > 1]
        stray = [i for i in ids if i not in owner]  # e.g. a malformed page that got stored
        model_of = {s.model: s.number for s in self.stories}
        alert_of_story: dict[int, list[dict[str, Any]]] = {}
        for alert in alerts:
            number = model_of.get(alert["subject"])
            alert_of_story.setdefault(number if number is not None else -1, []).append(alert)
        receipts = [r for r in lines if r.get("type") == "alert"]
        arrived = Counter(r["alert"] for r in receipts if r["valid"])
        invalid = sum(1 for r in receipts if not r["valid"])
        # Delivery is at least once (receivers drop repeats by X-ShellWatch-Alert): a request the
        # receiver logged but never answered, killed in between, is rightly sent again. A duplicate
        # is a request that arrives after the same alert was answered.
        answered_at: dict[str, float] = {}
        for line in lines:
            if line.get("answered") and line["valid"]:
                answered_at.setdefault(line["answered"], line["t"])
        resent_after_answer = Counter(
            r["alert"] for r in receipts if r["valid"] and r["t"] > answered_at.get(r["alert"], float("inf"))
        )
        wanted = set(numbers)
        missing_alerts, duplicated_alerts, unplanned = [], [], []
        for number in numbers:
            planned = alert_of_story.get(number, [])
            if len(planned) != 1:
                (missing_alerts if not planned else duplicated_alerts).append(number)
                continue
            if arrived[planned[0]["id"]] == 0:
                missing_alerts.append(number)
            elif resent_after_answer[planned[0]["id"]]:
                duplicated_alerts.append(number)
        alert_ids = {n: planned[0]["id"] for n, planned in alert_of_story.items() if len(planned) == 1}
        known = {alert["id"] for alert in alerts}
        unplanned = [alert_id for alert_id in arrived if alert_id not in known]
        return {
            "stories": len(numbers),
            "stored_articles": len(ids),
            "missing_articles": missing_articles,
            "duplicated_articles": duplicated_articles,
            "stray_articles": stray,
            "missing_alerts": missing_alerts,
            "duplicated_alerts": duplicated_alerts,
            "alerts_for_unknown_subjects": len(alert_of_story.get(-1, [])),
            "receipts_for_unrecorded_alerts": len(unplanned),
            "invalid_signatures": invalid,
            "resent_unanswered": sum(arrived.values()) - len(arrived) - sum(resent_after_answer.values()),
            "dead_letters": len(self.dead_letters),
            "alert_ids": alert_ids,
            "outside_check": len([n for n in alert_of_story if n not in wanted and n != -1]),
        }

    def _story_keys(self) -> dict[int, list[str]]:
        """Each story's article ids: its own and its syndicated copy's."""
        from crawlers.urls import canonicalize_url
        from shellwatch.domain import article_id

        if not hasattr(self, "_keys"):
            self._keys = {}
            for story in self.stories:
                keys = [article_id(canonicalize_url(self.base + story.path))]
                if story.copy_path:
                    keys.append(article_id(canonicalize_url(self.base + story.copy_path)))
                self._keys[story.number] = keys
        return self._keys

    def check(
        self, after: str, fault_end: float, *, timeout: float | None = None, strict: bool = False
    ) -> Check:
        """Wait until every story published by `fault_end` is stored once and alerted once.

        Not strict: a story whose URL the crawl frontier still holds as claimed-but-unfinished (the
        crawler was killed after claiming it; the frontier's lease hands it out again later) is
        reported as `held_by_frontier_lease`, not waited for. Strict: it is waited for too.
        """
        info = self.published()
        numbers = [s["number"] for s in info["stories"] if s["published_at"] <= fault_end]
        # A story's syndicated copy counts too: wait until it was published before judging.
        horizon = fault_end + 6.0
        deadline = time.monotonic() + (timeout or self.config.converge_timeout)
        started = time.monotonic()
        keys = self._story_keys()
        while True:
            result = self.evaluate(numbers)
            missing = set(result["missing_articles"]) | set(result["missing_alerts"])
            queued_articles, queued_alerts = self.in_flight() if missing else (set(), set())
            # Still on its way (in a broker queue, unacknowledged at a worker, spooled): not lost.
            queued = {
                n
                for n in missing
                if queued_articles & set(keys[n]) or (result["alert_ids"].get(n) in queued_alerts)
            }
            # Claimed in the frontier by a crawler that died: its lease hands it out again later.
            held = [
                n for n in self._frontier_pending(sorted(set(result["missing_articles"]))) if n not in queued
            ]
            waiting_for = missing - self.known_lost
            if not strict:
                waiting_for -= set(held)
            done = not waiting_for
            if (done and time.time() > horizon) or time.monotonic() > deadline:
                break
            time.sleep(2.0)
        held_set = set(held)
        carried = sorted(self.known_lost & missing)
        skip = held_set | self.known_lost | queued
        lost_articles = [n for n in result["missing_articles"] if n not in skip]
        lost_alerts = [n for n in result["missing_alerts"] if n not in skip]
        self.known_lost |= set(lost_articles) | set(lost_alerts)
        check = Check(
            after=after,
            at=round(fault_end - self.t0, 1),
            published=len(numbers),
            converged_after=round(time.monotonic() - started, 1) if done else None,
            missing_articles=len(lost_articles),
            duplicated_articles=len(result["duplicated_articles"]),
            missing_alerts=len(lost_alerts),
            duplicated_alerts=len(result["duplicated_alerts"]),
            details={
                k: v
                for k, v in result.items()
                if k
                not in (
                    "missing_articles",
                    "duplicated_articles",
                    "missing_alerts",
                    "duplicated_alerts",
                    "alert_ids",
                )
            }
            | {
                "held_by_frontier_lease": len(held),
                "still_in_flight": len(queued),
                "still_missing_from_earlier_checks": len(carried),
                "missing_numbers": lost_articles[:20],
                "missing_alert_numbers": lost_alerts[:20],
                "duplicated_alert_numbers": result["duplicated_alerts"][:20],
            },
        )
        self.checks.append(check)
        self.log(
            f"check after {after}: {check.published} stories, converged after {check.converged_after}s, "
            f"missing {check.missing_articles} articles / {check.missing_alerts} alerts, duplicated "
            f"{check.duplicated_articles} / {check.duplicated_alerts}, held by the frontier lease {len(held)}, "
            f"still queued {len(queued)}, "
            f"still missing from earlier checks {len(carried)}, dead letters {result['dead_letters']}"
        )
        return check

    def in_flight(self) -> tuple[set[str], set[str]]:
        """Article ids and alert ids still on their way: waiting in a broker queue, delivered to a
        worker but unacknowledged (running, or a retry waiting for its countdown), or spooled."""
        import base64

        import redis as redis_client

        from workers.application import QUEUES, UNACKED_KEY, queue_keys

        articles: set[str] = set()
        alerts: set[str] = set()

        def note(message: dict[str, Any]) -> None:
            try:
                _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            except (KeyError, ValueError, TypeError):
                return
            if "alert_id" in kwargs:
                alerts.add(kwargs["alert_id"])
            elif "article_id" in kwargs:
                articles.add(kwargs["article_id"])

        try:
            client = redis_client.Redis.from_url(self.redis.url, decode_responses=True, socket_timeout=5)
            for queue in QUEUES:
                for key in queue_keys(queue):
                    for raw in client.lrange(key, 0, -1):
                        note(json.loads(raw))
            for raw in client.hvals(UNACKED_KEY):
                note(json.loads(raw)[0])
        except Exception:  # noqa: BLE001 - Redis down: nothing can be said
            pass
        spool = self.data_dir / "spool"
        if spool.exists():
            articles.update(path.stem for path in spool.glob("*.json"))
        return articles, alerts

    def _frontier_pending(self, numbers: list[int]) -> list[int]:
        """The missing stories whose URL is claimed but unfinished in the crawl frontier (Redis)."""
        import redis as redis_client

        from crawlers.state import REDIS_PREFIX
        from crawlers.urls import canonicalize_url

        if not numbers:
            return []
        try:
            client = redis_client.Redis.from_url(self.redis.url, decode_responses=True, socket_timeout=2)
            pending = set(client.hkeys(REDIS_PREFIX + "pending"))
        except Exception:  # noqa: BLE001 - Redis down: nothing can be said
            return []
        by_number = {s.number: s for s in self.stories}
        return [n for n in numbers if canonicalize_url(self.base + by_number[n].path) in pending]

    # Faults -----------------------------------------------------------------------------------------
    def fault(self, name: str, action, check: bool = True) -> None:
        time.sleep(self.config.gap)
        started = time.time()
        self.log(f"fault: {name} at t={started - self.t0:.0f}s")
        detail = action() or {}
        ended = time.time()
        self.faults.append(
            {"fault": name, "start": round(started - self.t0, 1), "end": round(ended - self.t0, 1)} | detail
        )
        if check:
            self.check(name, ended)

    def kill_worker(self) -> dict[str, Any]:
        svc = self.services["worker1"]
        with self.lock:
            svc.kill9()
        time.sleep(self.config.worker_down)
        with self.lock:
            svc.start()
        return {}

    def kill_crawler(self) -> dict[str, Any]:
        import redis as redis_client

        from crawlers.state import REDIS_PREFIX

        svc = self.services["crawler"]
        with self.lock:
            svc.kill9()
        client = redis_client.Redis.from_url(self.redis.url, decode_responses=True)
        claimed_unfinished = client.hlen(REDIS_PREFIX + "pending")
        time.sleep(self.config.crawler_down)
        with self.lock:
            svc.start()
        return {"frontier_pending_at_kill": claimed_unfinished}

    def restart_redis(self) -> dict[str, Any]:
        self.redis.stop()
        time.sleep(self.config.redis_down)
        self.redis.start()
        return {}

    def lock_store(self) -> dict[str, Any]:
        db = sqlite3.connect(self.data_dir / "shellwatch.sqlite3", timeout=60, isolation_level=None)
        try:
            db.execute("BEGIN EXCLUSIVE")
            time.sleep(self.config.store_locked)
            db.execute("ROLLBACK")
        finally:
            db.close()
        return {}

    def receiver_down(self) -> dict[str, Any]:
        svc = self.services["receiver"]
        with self.lock:
            svc.kill9()
        time.sleep(self.config.receiver_down)
        with self.lock:
            svc.start()
        wait_for_port(self.ports["receiver"])
        return {}

    def malformed_burst(self) -> dict[str, Any]:
        http("POST", f"{self.base}/_control/burst?n={self.config.malformed_burst}")
        time.sleep(5)
        return {"pages": self.config.malformed_burst}

    # The whole run ----------------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        config = self.config
        try:
            self.prepare()
            self.start()
            # Throughput: wait for the backlog to be stored and alerted.
            backlog = list(range(config.backlog))
            deadline = time.monotonic() + config.converge_timeout
            while time.monotonic() < deadline:
                result = self.evaluate(backlog)
                if not (result["missing_articles"] or result["missing_alerts"]):
                    break
                time.sleep(1.0)
            self.backlog_done = self.now()
            self.log(f"backlog of {config.backlog} stored and alerted after {self.backlog_done:.1f}s")
            self.fault("kill -9 crawler", self.kill_crawler)
            self.fault("kill -9 worker", self.kill_worker)
            self.fault("Redis restart", self.restart_redis)
            self.fault("store locked", self.lock_store)
            self.fault("webhook receiver down", self.receiver_down)
            self.fault("malformed burst", self.malformed_burst)
            time.sleep(config.gap)
            http("POST", f"{self.base}/_control/stop")
            self.stopped = self.now()
            final = self.published()
            self.check(
                "end of run (publication stopped)",
                self.t0 + self.stopped,
                timeout=config.final_timeout,
                strict=config.wait_for_lease,
            )
            self.final_published = final
            self.api_health = json.loads(http("GET", f"http://127.0.0.1:{self.ports['api']}/api/health"))
            self.exported = self._export_count()
            for svc in self.services.values():
                sample([svc]) if svc.alive() else None
        finally:
            self.stop()
        return self.results()

    def _export_count(self) -> int:
        out = subprocess.run(
            [str(VENV_BIN / "shellwatch"), "articles", "--json"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            timeout=300,
            check=True,
        )
        return len(json.loads(out.stdout))

    def results(self) -> dict[str, Any]:
        receipts = [r for r in self.receipts_now() if r.get("type") == "alert" and r["valid"]]
        first: dict[str, float] = {}
        for receipt in receipts:
            first.setdefault(receipt["subject"], receipt["t"])
        model_of = {s.model: s.number for s in self.stories}
        steady = []
        backlog = []
        for subject, arrived in first.items():
            number = model_of.get(subject)
            if number is None:
                continue
            latency = arrived - self.publish_at[number]
            (backlog if number < self.config.backlog else steady).append(latency)
        fault_windows = [(f["start"], f["end"] + 0.0) for f in self.faults]
        calm = [
            first[s.model] - self.publish_at[s.number]
            for s in self.stories
            if s.number >= self.config.backlog
            and s.model in first
            # after the backlog was drained, and not within 5 s before to 60 s after a fault
            and self.publish_at[s.number] - self.t0 > self.backlog_done
            and not any(a - 5 <= self.publish_at[s.number] - self.t0 <= b + 60 for a, b in fault_windows)
        ]
        backlog_last = max(
            (first[s.model] for s in self.stories[: self.config.backlog] if s.model in first), default=None
        )
        published = len(self.final_published["stories"])
        return {
            "config": asdict(self.config),
            "corpus_check": self.corpus_check,
            "published_stories": published,
            "published_copies": sum(1 for s in self.final_published["stories"] if s["copy_published_at"]),
            "malformed_pages": len(self.final_published["bad"]),
            "publication_seconds": round(self.stopped, 1),
            "backlog": {
                "stories": self.config.backlog,
                "drained_after": round(self.backlog_done, 1),
                "last_alert_after": round(backlog_last - self.t0, 1) if backlog_last else None,
                "articles_per_second": round(self.config.backlog / (backlog_last - self.t0), 2)
                if backlog_last
                else None,
            },
            "overall_articles_per_second": round(published / (max(first.values()) - self.t0), 2)
            if first
            else None,
            "freshness": {
                "steady_all": _percentiles(steady),
                "steady_outside_faults": _percentiles(calm),
                "backlog": _percentiles(backlog),
            },
            "processes": {
                name: {
                    "cpu_seconds": round(svc.cpu_seconds, 1),
                    "peak_rss_mib": round(svc.peak_rss / 2**20, 1),
                    "starts": len(svc.started),
                }
                for name, svc in self.services.items()
            },
            "queue_depth": _queue_summary(self.samples),
            "faults": self.faults,
            "checks": [asdict(c) for c in self.checks],
            "api_health": getattr(self, "api_health", None),
            "exported_articles": getattr(self, "exported", None),
            "receipts": sum(1 for r in self.receipts_now() if "answered" not in r),
            "unplanned_exits": self.unplanned_exits,
            "dead_letters": self.dead_letters,
            "samples": self.samples,
        }


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
    }


def _queue_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for queue in ("analysis", "delivery", "crawl", "unacked", "spooled"):
        values = [row[queue] for row in samples if queue in row]
        if values:
            summary[queue] = {"max": max(values), "mean": round(sum(values) / len(values), 1)}
    # A coarse timeline: the deepest analysis queue per 30 s.
    timeline: dict[int, int] = {}
    for row in samples:
        bucket = int(row["t"] // 30) * 30
        depth = row.get("analysis", 0) + row.get("delivery", 0)
        timeline[bucket] = max(timeline.get(bucket, 0), depth)
    summary["analysis_plus_delivery_max_per_30s"] = timeline
    return summary


def markdown(results: dict[str, Any]) -> str:
    """The figures as BENCHMARKS.md rows."""
    lines = []
    f = results["freshness"]
    lines.append(
        f"- published: {results['published_stories']} stories ({results['published_copies']} also syndicated), "
        f"{results['malformed_pages']} malformed pages, over {results['publication_seconds']} s"
    )
    lines.append(
        f"- backlog of {results['backlog']['stories']}: {results['backlog']['articles_per_second']} articles/s end to end "
        f"(last alert after {results['backlog']['last_alert_after']} s)"
    )
    for key, label in (
        ("steady_outside_faults", "outside fault windows"),
        ("steady_all", "all steady-state stories"),
        ("backlog", "backlog"),
    ):
        row = f[key]
        lines.append(
            f"- freshness {label}: n={row['n']} p50 {row['p50']} s, p95 {row['p95']} s, max {row['max']} s"
        )
    lines.append("")
    lines.append("| process | CPU s | peak RSS MiB | starts |")
    lines.append("|---|---:|---:|---:|")
    for name, row in results["processes"].items():
        lines.append(f"| {name} | {row['cpu_seconds']} | {row['peak_rss_mib']} | {row['starts']} |")
    lines.append("")
    lines.append(
        "| after | stories covered | converged after s | lost articles | duplicated articles | lost alerts "
        "| duplicated alerts | still queued at the bound | held by frontier lease | dead letters |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for check in results["checks"]:
        lines.append(
            f"| {check['after']} | {check['published']} | {check['converged_after']} | {check['missing_articles']} | "
            f"{check['duplicated_articles']} | {check['missing_alerts']} | {check['duplicated_alerts']} | "
            f"{check['details'].get('still_in_flight', '')} | {check['details']['held_by_frontier_lease']} | "
            f"{check['details']['dead_letters']} |"
        )
    if results["unplanned_exits"]:
        exits = ", ".join(
            f"{e['service']} at {e['t']} s (exit {e['exit_code']})" for e in results["unplanned_exits"]
        )
        lines.append("")
        lines.append(f"- restarted by the supervisor after exiting on their own: {exits}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--short", action="store_true", help="the CI size (a few hundred stories, short outages)"
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "e2e")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so that every process the run started is stopped (finally)

    signal.signal(signal.SIGTERM, terminate)
    config = Config.short() if args.short else Config()
    started = time.monotonic()
    run = Run(
        args.workdir,
        config,
        log=lambda message: print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True),
    )
    results = run.execute()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(results, indent=1, ensure_ascii=False)
    (args.workdir / "results.json").write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    print(markdown(results))
    bad = [
        c
        for c in results["checks"]
        if c["missing_articles"] or c["missing_alerts"] or c["duplicated_articles"] or c["duplicated_alerts"]
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
