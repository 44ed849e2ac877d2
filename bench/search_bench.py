"""Benchmark of the embedded search store against a naive LIKE scan, on a synthetic bilingual corpus.

    .venv/bin/python bench/search_bench.py                  # 100,000 articles
    .venv/bin/python bench/search_bench.py --articles 1000000

Builds a corpus of Chinese (simplified and traditional) and English articles about the entities of
the real knowledge base, indexes it with SqliteStore.upsert_articles (batches of 1,000), adds one
incident per (accused organisation, claim type, quarter), then measures p50/p95/p99 latency of
search (hits + total + facets), filtered search and timeline queries, and the same questions
answered by a LIKE scan over the stored JSON in the same file, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.knowledge_base import load_knowledge_base  # noqa: E402
from search.backends.sqlite import SCHEMA_VERSION, SqliteStore  # noqa: E402
from shellwatch.config import PACKAGE_ROOT  # noqa: E402
from shellwatch.domain import (  # noqa: E402
    AnalysedArticle,
    Analysis,
    Article,
    Claim,
    ClaimType,
    EntityMention,
    EntityType,
    Incident,
    Language,
    Stance,
    stable_id,
)

ZH_SOURCES = [
    "36氪",
    "机器之心",
    "量子位",
    "钛媒体",
    "IT之家",
    "雷锋网",
    "新浪科技",
    "澎湃新闻",
    "明報",
    "聯合報",
]
EN_SOURCES = ["TechCrunch", "The Verge", "VentureBeat", "Reuters", "SCMP", "Bloomberg", "Hacker News"]
ZH_CUES = {
    ClaimType.LLAMA_BASED: [
        "被指基于Llama架构",
        "沿用Llama架构",
        "被质疑套壳开源模型",
        "张量名称与Llama相同",
    ],
    ClaimType.API_DISTILLED: ["被指蒸馏GPT-4", "疑似用ChatGPT生成的数据训练", "调用OpenAI接口训练"],
    ClaimType.API_WRAPPER: ["被指直接调用OpenAI接口", "一阶套壳", "转发请求到海外模型"],
    ClaimType.PROMPT_WRAPPER: ["只是提示词工程", "Prompt工程包装"],
    ClaimType.RAG_WRAPPER: ["向量数据库加第三方模型", "知识库外挂"],
    ClaimType.FINE_TUNED: ["微调开源模型包装成行业模型", "垂直模型实为微调"],
    ClaimType.SELF_DEVELOPED: ["宣称完全自研", "从零训练"],
}
EN_CUES = {
    ClaimType.LLAMA_BASED: [
        "accused of being based on Llama",
        "renamed tensors from Llama",
        "weights match Llama",
    ],
    ClaimType.API_DISTILLED: ["accused of distilling GPT-4", "trained on ChatGPT outputs", "imitation data"],
    ClaimType.API_WRAPPER: ["a thin wrapper around the OpenAI API", "proxies Claude"],
    ClaimType.PROMPT_WRAPPER: ["prompt engineering on top of GPT-4"],
    ClaimType.RAG_WRAPPER: ["RAG on top of another vendor's model", "embeddings over private data"],
    ClaimType.FINE_TUNED: ["fine-tuned from an open model", "vertical model on top of Qwen"],
    ClaimType.SELF_DEVELOPED: ["built from scratch", "home-grown model"],
}
ZH_FILLER = [
    "业内人士表示",
    "开发者在社区发帖",
    "记者联系了公司",
    "该模型在榜单上表现突出",
    "多位研究者对比了权重",
    "公司回应称",
    "这一说法引发讨论",
    "投资人关注此事",
    "监管部门尚未表态",
    "网友发现",
]
EN_FILLER = [
    "industry observers said",
    "developers compared the weights",
    "the company did not respond",
    "the model topped a leaderboard",
    "researchers posted evidence",
    "investors are watching",
    "regulators have not commented",
    "users on social media noticed",
    "the startup raised funding",
]
STANCE_WEIGHTS = {
    Stance.ALLEGATION: 6,
    Stance.DENIAL: 2,
    Stance.ADMISSION: 1,
    Stance.ANALYSIS: 2,
    Stance.SELF_CLAIM: 1,
}
START = datetime(2023, 1, 1, tzinfo=UTC)
DAYS = 3 * 365


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200, help="timed queries per category")
    parser.add_argument("--baseline-samples", type=int, default=30, help="timed LIKE scans per category")
    parser.add_argument("--dir", type=Path, help="where the database goes (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="time the queries on the corpus already in --dir (built by an earlier run)",
    )
    args = parser.parse_args()
    if args.measure_only and not args.dir:
        parser.error("--measure-only needs --dir")
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="shellwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "bench.sqlite3"
    if not args.measure_only:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    kb = load_knowledge_base(PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml")
    rng = random.Random(20231115)
    corpus = Corpus(kb, rng)
    figures: dict[str, object] = {"articles": args.articles, "machine": machine(), "load_before": load()}
    version = schema_version(path)
    opened = time.perf_counter()
    with SqliteStore(path, kb=kb) as store:
        if version and version < SCHEMA_VERSION:  # a corpus built by an older ShellWatch: migrated
            figures["migrated_from_version"] = version
            figures["migration_seconds"] = round(time.perf_counter() - opened, 1)
        if args.measure_only:
            figures["articles"] = store.count_articles()
        else:
            indexed, seconds = index(store, corpus, args.articles)
            figures["index_articles_per_s"] = round(indexed / seconds)
            figures["index_seconds"] = round(seconds, 1)
            figures["incidents"] = add_incidents(store, corpus)
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        figures["size_mb"] = round(
            sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists()) / 1e6,
            1,
        )
        figures["size_bytes_per_article"] = round(figures["size_mb"] * 1e6 / figures["articles"])  # type: ignore[operator]
        figures["size_mb_by_table"] = size_by_table(store)
        rng = random.Random(7)  # the same queries whether or not this run built the corpus
        queries = QuerySet(corpus, rng)
        figures["latency_ms"] = {
            "search": measure(lambda q: store.search(q), queries.search, args.samples, rng),
            "filtered search": measure(lambda q: store.search(q), queries.filtered, args.samples, rng),
            "timeline": measure(lambda q: store.timeline(entity=q), queries.entities, args.samples, rng),
            "search, hits only (no facets)": measure(
                lambda q: store.search(q, facets=False), queries.search, args.samples, rng
            ),
        }
        baseline = LikeScan(path, corpus)
        figures["baseline_latency_ms"] = {
            "search": measure(baseline.search, queries.search, args.baseline_samples, rng, warm=1),
            "filtered search": measure(
                baseline.filtered, queries.filtered, args.baseline_samples, rng, warm=1
            ),
            "timeline": measure(baseline.timeline, queries.entities, args.baseline_samples, rng, warm=1),
        }
        baseline.close()
    figures["load_after"] = load()
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")


class Corpus:
    """Deterministic synthetic articles: subject, claim type, stance, language, script, date."""

    def __init__(self, kb, rng: random.Random):
        self.kb = kb
        self.rng = rng
        self.orgs = [e for e in kb.entities if e.type is EntityType.ORG and kb.models_of(e.id)]
        self.models = {o.id: kb.models_of(o.id) for o in self.orgs}
        self.made: list[tuple[str, ClaimType, datetime, str]] = []  # (org, type, when, article id)

    def articles(self, count: int) -> Iterator[AnalysedArticle]:
        rng = self.rng
        stances, weights = list(STANCE_WEIGHTS), list(STANCE_WEIGHTS.values())
        for n in range(count):
            org = rng.choice(self.orgs)
            model = rng.choice(self.models[org.id])
            claim_type = rng.choice(list(ClaimType))
            stance = rng.choices(stances, weights)[0]
            when = START + timedelta(days=rng.randrange(DAYS), seconds=rng.randrange(86400))
            zh = rng.random() < 0.5
            if zh:
                org_name = rng.choice(org.names_zh or [org.name])
                model_name = rng.choice(model.names_zh or [model.name])
                title = f"{org_name}{model_name}{rng.choice(ZH_CUES[claim_type])}"
                body = (
                    "，".join(rng.choice(ZH_FILLER) for _ in range(12))
                    + f"。{title}。"
                    + "，".join(rng.choice(ZH_FILLER) for _ in range(12))
                    + "。"
                )
                source = rng.choice(ZH_SOURCES)
            else:
                title = f"{org.name}'s {model.name} {rng.choice(EN_CUES[claim_type])}"
                body = (
                    ". ".join(rng.choice(EN_FILLER) for _ in range(10))
                    + f". {title}. "
                    + ". ".join(rng.choice(EN_FILLER) for _ in range(10))
                    + "."
                )
                source = rng.choice(EN_SOURCES)
            url = f"https://bench.example/{n}"
            language = Language.ZH if zh else Language.EN
            article = AnalysedArticle(
                article=Article(
                    url=url,
                    canonical_url=url,
                    source=source,
                    language=language,
                    title=title,
                    text=body,
                    published_at=when,
                    fetched_at=when,
                ),
                analysis=Analysis(
                    language=language,
                    relevant=True,
                    relevance=0.9,
                    entities=[
                        EntityMention(id=org.id, name=org.name, type=EntityType.ORG),
                        EntityMention(id=model.id, name=model.name, type=EntityType.MODEL),
                    ],
                    claims=[
                        Claim(
                            subject=model.id,
                            subject_name=model.name,
                            type=claim_type,
                            depth=claim_type.depth,
                            stance=stance,
                            evidence=title,
                            confidence=round(rng.uniform(0.4, 1.0), 2),
                        )
                    ],
                ),
            )
            self.made.append((org.id, claim_type, when, article.id))
            yield article


def index(store: SqliteStore, corpus: Corpus, count: int) -> tuple[int, float]:
    batch: list[AnalysedArticle] = []
    indexed, elapsed = 0, 0.0
    for article in corpus.articles(count):
        batch.append(article)
        if len(batch) == 1000:
            elapsed += timed(lambda b=batch: store.upsert_articles(b))
            indexed += len(batch)
            batch = []
            if indexed % 50_000 == 0:
                print(f"indexed {indexed} ({indexed / elapsed:.0f}/s)", file=sys.stderr)
    if batch:
        elapsed += timed(lambda: store.upsert_articles(batch))
        indexed += len(batch)
    return indexed, elapsed


def add_incidents(store: SqliteStore, corpus: Corpus) -> int:
    """One incident per (organisation, claim type, quarter): what clustering would roughly give."""
    groups: dict[tuple[str, ClaimType, int], list[tuple[datetime, str]]] = defaultdict(list)
    for org, claim_type, when, article_id in corpus.made:
        groups[(org, claim_type, when.year * 4 + (when.month - 1) // 3)].append((when, article_id))
    for (org, claim_type, quarter), members in groups.items():
        members.sort()
        store.upsert_incident(
            Incident(
                id=stable_id("bench", org, claim_type, str(quarter)),
                subject=org,
                subject_name=org,
                claim_types=[claim_type],
                title_en=f"{org} {claim_type.value}",
                title_zh=f"{org} {claim_type.value}",
                started_at=members[0][0],
                updated_at=members[-1][0],
                article_ids=[a for _, a in members],
            )
        )
    return len(groups)


class QuerySet:
    def __init__(self, corpus: Corpus, rng: random.Random):
        orgs = corpus.orgs
        names = [o.name for o in orgs] + [n for o in orgs for n in o.names_zh]
        words = [
            "llama",
            "distilled",
            "wrapper",
            "蒸馏",
            "套壳",
            "自研",
            "微调",
            "接口",
            "accused",
            "weights",
        ]
        self.search = (
            [rng.choice(names) for _ in range(20)]
            + words
            + ['"based on Llama"', "套壳 OR 蒸馏", "llama NOT denied", "零一萬物", "百度 文心一言"]
        )
        types = [t.value for t in ClaimType]
        self.filtered = (
            [f"{rng.choice(names)} type:{rng.choice(types)}" for _ in range(10)]
            + [f"entity:{o.id} stance:denial" for o in rng.sample(orgs, 5)]
            + [
                "套壳 lang:zh depth:<=2",
                "llama stance:allegation from:2024-01 to:2024-06",
                "type:api_distilled lang:en",
                "蒸馏 source:量子位",
                "entity:baidu type:llama_based from:2023",
            ]
        )
        self.entities = [o.id for o in orgs]


class LikeScan:
    """The naive way: substring scans over the stored JSON, no index (same file, own connection)."""

    def __init__(self, path: Path, corpus: Corpus):
        self.db = sqlite3.connect(path)
        self.kb = corpus.kb

    def close(self) -> None:
        self.db.close()

    def _scan(self, conditions: list[str], params: list[str]) -> None:
        where = " AND ".join(conditions) or "1"
        self.db.execute(
            f"SELECT count(*) FROM articles a JOIN article_payloads p ON p.rowid = a.rowid WHERE {where}",
            params,
        ).fetchone()
        self.db.execute(
            f"SELECT p.payload FROM articles a JOIN article_payloads p ON p.rowid = a.rowid WHERE {where} ORDER BY a.published_at DESC LIMIT 20",
            params,
        ).fetchall()

    def search(self, query: str) -> None:
        words = [w.strip('"') for w in query.split() if w not in ("OR", "NOT", "AND")]
        self._scan(["p.payload LIKE ?"] * len(words), [f"%{w}%" for w in words])

    def filtered(self, query: str) -> None:
        conditions, params = [], []
        for word in query.split():
            name, _, value = word.partition(":")
            if value and name in ("type", "stance", "entity", "lang", "source"):
                key = {
                    "type": "type",
                    "stance": "stance",
                    "entity": "id",
                    "lang": "language",
                    "source": "source",
                }[name]
                conditions.append("p.payload LIKE ?")
                params.append(f'%"{key}":"{value}"%')
            elif not value:
                conditions.append("p.payload LIKE ?")
                params.append(f"%{word}%")
        self._scan(conditions, params)

    def timeline(self, entity_id: str) -> None:
        entity = self.kb.get(entity_id)
        names = [entity.name, *entity.names_zh]
        condition = " OR ".join("p.payload LIKE ?" for _ in names)
        self.db.execute(
            f"SELECT i.payload, substr(a.published_at, 1, 7), count(*) FROM articles a"
            f" JOIN article_payloads p ON p.rowid = a.rowid"
            f" JOIN incident_articles ia ON ia.article = a.id JOIN incidents i ON i.id = ia.incident"
            f" WHERE {condition} GROUP BY 1, 2",
            [f"%{n}%" for n in names],
        ).fetchall()


def measure(
    run: Callable[[str], object], queries: list[str], samples: int, rng: random.Random, warm: int = 5
) -> dict[str, float]:
    for query in queries[:warm]:
        run(query)  # warm the caches the way a running service would be
    times = []
    for _ in range(samples):
        query = rng.choice(queries)
        times.append(timed(lambda q=query: run(q)) * 1000)
    times.sort()

    def pct(p: float) -> float:
        return round(times[min(len(times) - 1, int(p * len(times)))], 1)

    return {
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "mean": round(statistics.fmean(times), 1),
        "samples": samples,
    }


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def schema_version(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def size_by_table(store: SqliteStore) -> dict[str, float]:
    """MB per table and index (FTS5 shadow tables summed under article_fts), largest first."""
    sizes: dict[str, float] = defaultdict(float)
    for name, size in store._db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        sizes["article_fts" if name.startswith("article_fts") else name] += size / 1e6
    return {name: round(mb, 1) for name, mb in sorted(sizes.items(), key=lambda kv: -kv[1]) if mb >= 1}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}"
    )


if __name__ == "__main__":
    main()
