"""Alerts benchmark: matching cost per article against many subscriptions, and webhook latency.

    .venv/bin/python bench/alerts_bench.py [--subscriptions 10000] [--articles 40]

1. Matching cost: an embedded SQLite store holding N subscriptions shaped like real ones (entity
   filters on knowledge-base entities, claim-type and depth filters, some free-text queries; feed
   channels so nothing goes on the network). Per article: `store.match_subscriptions` (the
   percolation) and the whole `alerts.dispatch.plan_alerts` (percolation + claim filters +
   exactly-once recording). Measured at N/10 and N in the same run for comparison.
2. Webhook latency in-process: `workers.pipeline.process_article` (real NLP analysis → store →
   incidents → plan_alerts → deliver_alert) for articles that each carry a new allegation, timed
   from the call to the moment a real HTTP receiver on 127.0.0.1 has read the signed request.
   Measured with 1 subscription and with N in the store.
3. Webhook latency multi-service (`--multi-service`): a real redis-server and a real
   `celery worker` (prefork, 2 processes, all queues); `workers.handoff.submit_article` as the
   crawler calls it → `analysis` queue → `delivery` queue → the receiver. Store: SQLite in the
   shared data directory.

Everything runs in a temporary directory; nothing is left behind.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.dispatch import plan_alerts  # noqa: E402
from nlp.knowledge_base import KnowledgeBase, load_knowledge_base  # noqa: E402
from search.backends.sqlite import SqliteStore  # noqa: E402
from search.incidents import assign_incidents  # noqa: E402
from shellwatch.config import PACKAGE_ROOT, Settings, load_settings  # noqa: E402
from shellwatch.domain import (  # noqa: E402
    AnalysedArticle,
    Analysis,
    Article,
    Channel,
    ChannelKind,
    Claim,
    ClaimType,
    EntityType,
    Language,
    Stance,
    Subscription,
    stable_id,
)

QUERIES = [
    "llama",
    "蒸馏",
    "套壳",
    "entity:openai",
    "type:api_distilled",
    "GPT-4 OR Claude",
    "depth:<=2",
    "lang:zh",
]
OBJECTS = ["llama-2", "gpt-4", "qwen", "claude", "chatgpt"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument(
        "--multi-service", action="store_true", help="also measure with Redis and a Celery worker"
    )
    args = parser.parse_args()
    kb = load_knowledge_base(PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml")
    rng = random.Random(7)
    print(f"alerts benchmark: {args.subscriptions} subscriptions, {args.articles} articles")
    with tempfile.TemporaryDirectory(prefix="shellwatch-alerts-bench-") as directory:
        root = Path(directory)
        small = max(1, args.subscriptions // 10)
        for count in (small, args.subscriptions):
            matching(root / f"match-{count}", kb, count, args.articles, rng)
        for count in (1, args.subscriptions):
            latency(root / f"latency-{count}", kb, count, args.articles, rng)
        if args.multi_service:
            for count in (1, args.subscriptions):
                multi_service_latency(root / f"multi-{count}", kb, count, args.articles, rng)


# 1. Matching -------------------------------------------------------------------------------------------


def matching(directory: Path, kb: KnowledgeBase, count: int, articles: int, rng: random.Random) -> None:
    directory.mkdir()
    with SqliteStore(directory / "store.sqlite3", kb=kb) as store:
        started = time.perf_counter()
        for subscription in synthetic_subscriptions(kb, count, rng):
            store.save_subscription(subscription)
        loaded = time.perf_counter() - started
        match_ms, plan_ms, alerts = [], [], 0
        for analysed in synthetic_articles(kb, articles, rng):
            store.upsert_article(analysed)
            assignment = assign_incidents(store, analysed, kb)
            started = time.perf_counter()
            store.match_subscriptions(analysed)
            match_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            alerts += len(plan_alerts(store, analysed, assignment, kb))
            plan_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"matching, {count:>6} subscriptions (saved in {loaded:.1f}s): "
        f"match_subscriptions p50 {pct(match_ms, 50):.1f} ms p95 {pct(match_ms, 95):.1f} ms; "
        f"plan_alerts p50 {pct(plan_ms, 50):.1f} ms p95 {pct(plan_ms, 95):.1f} ms; "
        f"{alerts / len(plan_ms):.1f} alerts per article"
    )


def synthetic_subscriptions(kb: KnowledgeBase, count: int, rng: random.Random) -> list[Subscription]:
    """Shapes seen in practice: mostly an entity or two, sometimes a type, depth or query filter."""
    ids = [e.id for e in kb.entities if e.type is not EntityType.PERSON]
    created = datetime.now(UTC)
    subscriptions = []
    for number in range(count):
        shape = rng.random()
        fields: dict = {}
        if shape < 0.7:
            fields["entities"] = rng.sample(ids, rng.choice((1, 1, 2)))
        if 0.5 < shape < 0.8:
            fields["claim_types"] = [rng.choice(list(ClaimType))]
        if 0.8 <= shape < 0.9:
            fields["max_depth"] = rng.choice((1, 2, 3))
        if shape >= 0.9:
            fields["query"] = rng.choice(QUERIES)
        subscriptions.append(
            Subscription(
                id=f"bench-{number:06d}",
                name=f"bench {number}",
                channels=[Channel(kind=ChannelKind.FEED)],
                secret="bench",
                created_at=created,
                **fields,
            )
        )
    return subscriptions


def synthetic_articles(kb: KnowledgeBase, count: int, rng: random.Random) -> list[AnalysedArticle]:
    """Analysed articles, each with one allegation about a knowledge-base model."""
    models = [e for e in kb.entities if e.type is EntityType.MODEL]
    published = datetime(2024, 3, 1, tzinfo=UTC)
    articles = []
    for number in range(count):
        model = models[number % len(models)]
        claim_type = rng.choice([ClaimType.LLAMA_BASED, ClaimType.API_DISTILLED, ClaimType.API_WRAPPER])
        target = kb.get(rng.choice(OBJECTS))
        claim = Claim(
            subject=model.id,
            subject_name=model.name,
            object=target.id if target else None,
            object_name=target.name if target else None,
            type=claim_type,
            stance=Stance.ALLEGATION,
            evidence=f"Researchers alleged that {model.name} is built on {target.name if target else 'another model'}.",
            confidence=0.8,
        )
        url = f"https://bench.example/{number}"
        article = Article(
            url=url,
            canonical_url=url,
            source="bench.example",
            language=Language.EN,
            title=f"{model.name} accused",
            text=claim.evidence,
            published_at=published + timedelta(hours=number),
            fetched_at=published + timedelta(hours=number),
        )
        articles.append(
            AnalysedArticle(
                article=article,
                analysis=Analysis(language=Language.EN, relevant=True, relevance=0.9, claims=[claim]),
            )
        )
    return articles


# 2. Latency ---------------------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    """Records (alert id, arrival time); each measurement starts with `reset()`."""

    arrivals: list[tuple[str, float]] = []
    arrived = threading.Event()

    @classmethod
    def reset(cls) -> None:
        cls.arrivals.clear()
        cls.arrived.clear()

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.arrivals.append((self.headers["X-ShellWatch-Alert"], time.perf_counter()))
        self.arrived.set()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def latency(directory: Path, kb: KnowledgeBase, count: int, articles: int, rng: random.Random) -> None:
    from nlp.pipeline import load_analyzer
    from workers.pipeline import process_article

    directory.mkdir()
    Receiver.reset()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings: Settings = load_settings().model_copy(
        update={"data_dir": directory, "webhook_allow": ["127.0.0.1"], "webhook_timeout_seconds": 5.0}
    )
    analyzer = load_analyzer(settings)
    try:
        with SqliteStore(directory / "store.sqlite3", kb=kb) as store:
            for subscription in synthetic_subscriptions(kb, count - 1, rng):
                store.save_subscription(subscription)
            hook = Channel(
                kind=ChannelKind.WEBHOOK, target=f"http://127.0.0.1:{server.server_address[1]}/hook"
            )
            store.save_subscription(
                Subscription(
                    id="receiver",
                    name="all allegations",
                    channels=[hook],
                    secret="s",
                    created_at=datetime.now(UTC),
                )
            )
            samples = []
            for article in chinese_allegations(kb, articles):
                started = time.perf_counter()
                outcome = process_article(settings, article, store=store, analyzer=analyzer, kb=kb)
                mine = [a for a in outcome.alerts if a.subscription_id == "receiver"]
                arrivals = dict(Receiver.arrivals)
                samples.extend((arrivals[alert.id] - started) * 1000 for alert in mine)
    finally:
        server.shutdown()
        server.server_close()
    if not samples:
        print(
            f"latency, {count:>6} subscriptions: no article raised an alert (analyzer found no new allegation)"
        )
        return
    print(
        f"webhook latency in-process, {count:>6} subscriptions: p50 {pct(samples, 50):.0f} ms "
        f"p95 {pct(samples, 95):.0f} ms over {len(samples)} alerts from {articles} articles "
        "(article in → analysis → store → incidents → plan → signed POST read by the receiver)"
    )


def multi_service_latency(
    directory: Path, kb: KnowledgeBase, count: int, articles: int, rng: random.Random
) -> None:
    import os
    import signal
    import subprocess

    import redis as redis_client

    from tests.support.servers import RedisServer
    from workers.application import worker_command
    from workers.handoff import submit_article
    from workers.periodic import settings_environment

    directory.mkdir()
    redis = RedisServer(directory / "redis")
    redis.start()
    Receiver.reset()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings: Settings = load_settings().model_copy(
        update={
            "data_dir": directory / "data",
            "redis_url": redis.url,
            "webhook_allow": ["127.0.0.1"],
            "webhook_timeout_seconds": 5.0,
        }
    )
    settings.ensure_data_dir()
    with SqliteStore(settings.database_path, kb=kb) as store:
        for subscription in synthetic_subscriptions(kb, count - 1, rng):
            store.save_subscription(subscription)
        hook = Channel(kind=ChannelKind.WEBHOOK, target=f"http://127.0.0.1:{server.server_address[1]}/hook")
        store.save_subscription(
            Subscription(
                id="receiver",
                name="all allegations",
                channels=[hook],
                secret="s",
                created_at=datetime.now(UTC),
            )
        )
    environment = settings_environment(settings)
    environment["PYTHONPATH"] = str(PACKAGE_ROOT)
    log_file = (directory / "worker.log").open("w")
    worker = subprocess.Popen(
        worker_command(
            str(Path(sys.executable).with_name("celery")), concurrency=2, loglevel="WARNING", quiet=True
        ),
        cwd=PACKAGE_ROOT,
        env=environment,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    samples: list[float] = []
    drained: list[float] = []  # seconds until every task of the article has run
    try:
        # Warm-up: the first article loads the NLP models in each pool process.
        warm_up = chinese_allegations(kb, articles + 2)
        for article in warm_up[:2]:
            Receiver.arrived.clear()
            submit_article(settings, article)
            Receiver.arrived.wait(120)
        broker = redis_client.Redis.from_url(redis.url)
        for article in warm_up[2:]:
            wait_until_idle(broker)  # each article meets an idle pipeline: latency, not backlog
            Receiver.arrived.clear()
            before = len(Receiver.arrivals)
            started = time.perf_counter()
            submit_article(settings, article)
            if Receiver.arrived.wait(60) and len(Receiver.arrivals) > before:
                samples.append((Receiver.arrivals[-1][1] - started) * 1000)
            wait_until_idle(broker)
            drained.append(time.perf_counter() - started)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        log_file.close()
        server.shutdown()
        server.server_close()
        redis.stop()
    if not samples:
        print(
            f"multi-service latency, {count:>6} subscriptions: no webhook arrived (see {directory}/worker.log)"
        )
        return
    print(
        f"webhook latency multi-service, {count:>6} subscriptions: p50 {pct(samples, 50):.0f} ms "
        f"p95 {pct(samples, 95):.0f} ms over {len(samples)} of {articles} articles "
        "(submit_article → Redis → analysis task → delivery task → signed POST read by the receiver); "
        f"all of an article's tasks done after p50 {statistics.median(drained):.1f} s"
    )


def wait_until_idle(broker, timeout: float = 300.0) -> None:
    """Block until the analysis and delivery queues are empty and nothing is unacknowledged."""
    from workers.application import UNACKED_KEY, queue_keys

    started = time.perf_counter()
    keys = [*queue_keys("analysis"), *queue_keys("delivery")]
    while time.perf_counter() - started < timeout:
        if sum(broker.llen(key) for key in keys) == 0 and broker.hlen(UNACKED_KEY) == 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"queues not drained after {timeout:.0f}s")


def chinese_allegations(kb: KnowledgeBase, count: int) -> list[Article]:
    """Articles in the shape of Chinese coverage of a new allegation, one model each."""
    models = [e for e in kb.entities if e.type is EntityType.MODEL and e.names_zh]
    now = datetime.now(UTC)
    articles = []
    for number in range(count):
        model = models[number % len(models)]
        name = model.names_zh[0]
        url = f"https://bench.example/zh/{number}-{stable_id(name, length=6)}"
        articles.append(
            Article(
                url=url,
                canonical_url=url,
                source="bench.example",
                language=Language.ZH,
                title=f"{name}被指套壳Llama",
                text=f"网友发现{name}疑似套壳Llama，仅修改了张量名称。业内人士称这并非个例。",
                published_at=now,
                fetched_at=now,
            )
        )
    return articles


def pct(values: list[float], percentile: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]


if __name__ == "__main__":
    main()
