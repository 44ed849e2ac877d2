"""Digest benchmark: build and render time of one busy month, every format, both languages.

    .venv/bin/python bench/digests_bench.py [--incidents 24] [--articles-per-incident 14] [--runs 3]

An embedded SQLite store in a temporary directory gets a synthetic month shaped like a busy real
one: N incidents (two thirds new, one third ongoing from the month before) about knowledge-base
entities, each with Chinese and English coverage carrying allegations, denials and analysis.
Measured: `build_digest`, then `render` for md, html, json, csv and pdf (en and zh). The PDF is
measured four ways in the same run: Noto Sans CJK or WenQuanYi Zen Hei as the CJK font, each with
WeasyPrint subsetting fonts through libharfbuzz-subset0 and through its fontTools fallback (what
happens when the Debian package is missing). Figures are medians of --runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import digests.charts  # noqa: E402
import digests.renderers  # noqa: E402
from digests import build_digest, render  # noqa: E402
from digests.fonts import CjkFont, find_cjk_font  # noqa: E402
from nlp.knowledge_base import load_knowledge_base  # noqa: E402
from search import open_store  # noqa: E402
from shellwatch.config import PACKAGE_ROOT, load_settings  # noqa: E402
from shellwatch.domain import (  # noqa: E402
    AnalysedArticle,
    Analysis,
    Article,
    Claim,
    ClaimType,
    Incident,
    Language,
    Stance,
    stable_id,
)

SUBJECTS = [
    "bytedance",
    "baidu",
    "01-ai",
    "zhipu-ai",
    "moonshot-ai",
    "minimax",
    "baichuan",
    "alibaba",
    "tencent",
    "iflytek",
    "sensetime",
    "deepseek",
    "huawei",
    "xiaomi",
    "kuaishou",
    "meituan",
]
SOURCES_ZH = ["36氪", "机器之心", "量子位", "钛媒体", "IT之家", "新浪科技", "澎湃新闻", "界面新闻"]
SOURCES_EN = ["TechCrunch", "The Verge", "VentureBeat", "Reuters", "SCMP", "Bloomberg"]
TYPES = [
    ClaimType.LLAMA_BASED,
    ClaimType.API_DISTILLED,
    ClaimType.API_WRAPPER,
    ClaimType.FINE_TUNED,
    ClaimType.PROMPT_WRAPPER,
    ClaimType.RAG_WRAPPER,
]


def synthetic_month(kb, month_start: date, incidents: int, per_incident: int):
    articles: list[AnalysedArticle] = []
    records: list[Incident] = []
    subjects = [kb.get(s) for s in SUBJECTS if kb.get(s) is not None]
    base = datetime.combine(month_start, datetime.min.time(), UTC)
    for n in range(incidents):
        entity = subjects[n % len(subjects)]
        zh_name = entity.names_zh[0] if entity.names_zh else entity.name
        claim_type = TYPES[n % len(TYPES)]
        ongoing = n % 3 == 2
        start = (
            base
            + timedelta(days=(n * 5) % 27, hours=n % 24)
            - (timedelta(days=35) if ongoing else timedelta())  # began the month before
        )
        incident_id = stable_id("bench-incident", str(n))
        ids = []
        for k in range(per_incident):
            when = start + timedelta(hours=7 * k + 3)
            if ongoing and k >= per_incident // 3:  # the story goes on this month
                when = base + timedelta(days=(n + 2 * k) % 27, hours=k)
            zh = k % 2 == 0
            stance = (
                Stance.ALLEGATION if k % 4 in (0, 1) else Stance.DENIAL if k % 4 == 2 else Stance.ANALYSIS
            )
            evidence = (
                f"网友发现，{zh_name}的模型疑似{'沿用Llama架构' if claim_type is ClaimType.LLAMA_BASED else '调用OpenAI接口'}，"
                f"多位研究者在第{k + 1}篇报道中给出了对比证据。"
                if zh
                else f"Researchers say {entity.name}'s model appears to be a {claim_type.value.replace('_', ' ')} "
                f"of another vendor's work, report {k + 1} shows."
            )
            if stance is Stance.DENIAL:
                evidence = (
                    f"{zh_name}回应称，相关说法不实，模型为自主研发。"
                    if zh
                    else f"{entity.name} denied the claims."
                )
            url = f"https://{'www.36kr.com/p' if zh else 'techcrunch.com/2024'}/{n}-{k}"
            item = AnalysedArticle(
                article=Article(
                    url=url,
                    canonical_url=url,
                    language=Language.ZH if zh else Language.EN,
                    source=(SOURCES_ZH if zh else SOURCES_EN)[(n + k) % (8 if zh else 6)],
                    title=(
                        f"{zh_name}大模型被指套壳（{k + 1}）"
                        if zh
                        else f"{entity.name} model faces wrapper claims ({k + 1})"
                    ),
                    text=evidence,
                    published_at=when,
                    fetched_at=when,
                ),
                analysis=Analysis(
                    language=Language.ZH if zh else Language.EN,
                    relevant=True,
                    relevance=0.9,
                    claims=[
                        Claim(
                            subject=entity.id,
                            subject_name=entity.name,
                            type=claim_type,
                            depth=claim_type.depth,
                            stance=stance,
                            evidence=evidence,
                            confidence=0.8,
                            speaker=entity.name if stance is Stance.DENIAL else None,
                        )
                    ],
                ),
                incident_ids=[incident_id],
            )
            articles.append(item)
            ids.append(item.id)
        records.append(
            Incident(
                id=incident_id,
                subject=entity.id,
                subject_name=entity.name,
                claim_types=[claim_type],
                title_en=f"{entity.name} accused: {claim_type.value.replace('_', ' ')}",
                title_zh=f"{zh_name}被指套壳",
                started_at=start,
                updated_at=start + timedelta(days=3),
                article_ids=ids,
            )
        )
    return articles, records


def median_seconds(work: Callable[[], object], runs: int) -> float:
    work()  # warm-up: imports, font loading, caches
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def use_font(font: CjkFont) -> None:
    digests.renderers.find_cjk_font = lambda: font
    digests.renderers.CJK_FAMILIES = (font.family,)
    digests.charts.require_cjk_font = lambda: font


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=24)
    parser.add_argument("--articles-per-incident", type=int, default=14)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()

    import weasyprint.pdf.fonts as weasy_fonts

    kb = load_knowledge_base(PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(SHELLWATCH_DATA_DIR=tmp)
        with open_store(settings) as store:
            articles, incidents = synthetic_month(
                kb, date(2024, 3, 1), options.incidents, options.articles_per_incident
            )
            for item in articles:
                store.upsert_article(item)
            for incident in incidents:
                store.upsert_incident(incident)
            built = {}
            for lang in ("en", "zh"):
                seconds = median_seconds(
                    lambda lang=lang: build_digest(store, kb, "2024-03", lang), options.runs
                )
                built[lang] = build_digest(store, kb, "2024-03", lang)
                print(f"build_digest {lang}: {seconds * 1000:.0f} ms")
        digest = built["zh"]
        print(
            f"month: {len(articles)} articles, {len(digest.new_incidents)} new and "
            f"{len(digest.ongoing_incidents)} ongoing incidents"
        )
        for fmt in ("md", "html", "json", "csv"):
            for lang in ("en", "zh"):
                seconds = median_seconds(lambda fmt=fmt, lang=lang: render(built[lang], fmt), options.runs)
                print(
                    f"render {fmt} {lang}: {seconds * 1000:.0f} ms, {len(render(built[lang], fmt)) // 1024} KiB"
                )
        fonts = {"Noto Sans CJK SC": None, "WenQuanYi Zen Hei": None}
        from matplotlib import font_manager

        for entry in font_manager.fontManager.ttflist:
            if entry.name in fonts and fonts[entry.name] is None:
                fonts[entry.name] = CjkFont(entry.name, entry.fname)
        subsetter = weasy_fonts.harfbuzz_subset
        print(f"default CJK font: {find_cjk_font()}")
        for family, font in fonts.items():
            if font is None:
                print(f"pdf with {family}: font not installed")
                continue
            use_font(font)
            for label, library in (("libharfbuzz-subset0", subsetter), ("fontTools fallback", None)):
                if label == "libharfbuzz-subset0" and library is None:
                    print("libharfbuzz-subset0 is not installed")
                    continue
                weasy_fonts.harfbuzz_subset = library
                for lang in ("en", "zh"):
                    seconds = median_seconds(lambda lang=lang: render(built[lang], "pdf"), options.runs)
                    size = len(render(built[lang], "pdf")) // 1024
                    print(f"pdf {lang} {family} via {label}: {seconds:.2f} s, {size} KiB")
            weasy_fonts.harfbuzz_subset = subsetter


if __name__ == "__main__":
    main()
