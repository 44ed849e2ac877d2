"""Crawler benchmark: crawl + extraction speed, peak memory, extraction quality; against plain
trafilatura (and news-please when a Python with it is given) in the same run.

    .venv/bin/python bench/crawl_benchmark.py             # 600 generated pages
    .venv/bin/python bench/crawl_benchmark.py --full      # 3000 generated pages
    .venv/bin/python bench/crawl_benchmark.py --news-please /tmp/npvenv/bin/python

Speed: a newsroom of generated article pages (simplified Chinese in UTF-8 and GBK, English; real
page boilerplate from the demo newsroom; bodies mixed from the demo's articles so every page is
unique) is served on 127.0.0.1 with a sitemap; `python -m crawlers.run` crawls it with politeness
delays off, articles written as JSON Lines. The baseline fetches the same pages with 8 threads of
urllib and runs plain `trafilatura.bare_extraction` on each.

Quality: the demo newsroom's articles (demo/expected.yaml and demo/content/*.md hold the true title, time and body;
GBK, Big5 and UTF-8 pages, dates in meta, JSON-LD, feeds or only in the text). Title: exact match;
date: the same instant (plain trafilatura and news-please give dates without a zone, compared
by calendar day); body: F1 of character bigrams against the true body.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
import yaml  # noqa: E402

from crawlers.encoding import decode_page  # noqa: E402
from crawlers.extraction import NotAnArticle, extract_article  # noqa: E402
from shellwatch.domain import Language  # noqa: E402
from tests.support.servers import free_port, wait_for_port  # noqa: E402

DEMO = ROOT / "demo"
TEMPLATE_ZH = DEMO / "newsroom" / "techdaily" / "article" / "20231114-yi-34b-llama-architecture.html"
TEMPLATE_EN = DEMO / "newsroom" / "ai-ledger" / "article" / "20231115-01ai-yi-34b-llama-renamed-tensors.html"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="3000 pages instead of 600")
    parser.add_argument("--pages", type=int, help="number of generated pages")
    parser.add_argument("--news-please", dest="news_please", help="a Python interpreter that has news-please")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    pages = args.pages or (3000 if args.full else 600)

    gold = load_gold()
    warm_up(gold[0])
    quality = {"shellwatch": quality_shellwatch(gold), "trafilatura": quality_trafilatura(gold)}
    if args.news_please:
        quality["news-please"] = quality_news_please(gold, args.news_please)
    speed = speed_run(pages)
    report = {"machine": machine(), "pages": pages, "quality": quality, "speed": speed}
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


# ---- quality ------------------------------------------------------------------------------------


def load_gold() -> list[dict]:
    expected = yaml.safe_load((DEMO / "expected.yaml").read_text(encoding="utf-8"))
    gold = []
    for path, meta in expected["articles"].items():
        slug = path.rsplit("/", 1)[1].removesuffix(".html")
        content = DEMO / "content" / meta["outlet"] / f"{slug}.md"
        body = content.read_text(encoding="utf-8").split("---", 2)[2].strip()
        gold.append(
            {
                "file": DEMO / "newsroom" / path.lstrip("/"),
                "url": f"http://127.0.0.1:8719{path}",
                "language": Language(meta["language"]),
                "encoding": meta["encoding"],
                "title": meta["title"],
                "published": datetime.fromisoformat(str(meta["published"])),
                "body": re.sub(r"^#+ .*$|\*\*|__", "", body, flags=re.M),
            }
        )
    return gold


def warm_up(item: dict) -> None:
    """One untimed extraction each, so lazy initialisation is not charged to the first page."""
    html, _ = decode_page(item["file"].read_bytes(), "text/html")
    extract_article(html, url=item["url"], source_language=item["language"], fetched_at=datetime.now(UTC))
    trafilatura.bare_extraction(item["file"].read_bytes(), url=item["url"], with_metadata=True)


def quality_shellwatch(gold: list[dict]) -> dict:
    rows, times = [], []
    for item in gold:
        started = time.perf_counter()
        content_type = "text/html; charset=big5" if item["encoding"] == "big5" else "text/html"
        try:
            html, _ = decode_page(item["file"].read_bytes(), content_type)
            page = extract_article(
                html, url=item["url"], source_language=item["language"], fetched_at=datetime.now(UTC)
            )
            rows.append((page.title, page.published_at, page.text))
        except NotAnArticle:
            rows.append(("", None, ""))
        times.append(time.perf_counter() - started)
    return score(gold, rows, times, exact_time=True)


def quality_trafilatura(gold: list[dict]) -> dict:
    rows, times = [], []
    for item in gold:
        started = time.perf_counter()
        # Plain use: bytes in (trafilatura decodes them itself), defaults otherwise.
        document = trafilatura.bare_extraction(item["file"].read_bytes(), url=item["url"], with_metadata=True)
        times.append(time.perf_counter() - started)
        if document is None:
            rows.append(("", None, ""))
            continue
        rows.append((document.title or "", document.date, document.text or ""))
    return score(gold, rows, times, exact_time=False)


NEWS_PLEASE_SCRIPT = """
import json, sys, time
from newsplease import NewsPlease
items = json.load(sys.stdin)
out, times = [], []
for item in items:
    started = time.perf_counter()
    try:
        raw = open(item["file"], "rb").read()
        html = raw.decode(item["codec"], errors="replace")
        article = NewsPlease.from_html(html, url=item["url"], fetch_images=False)
        date = article.date_publish.isoformat() if article.date_publish else None
        out.append([article.title or "", date, article.maintext or ""])
    except Exception:
        out.append(["", None, ""])
    times.append(time.perf_counter() - started)
print(json.dumps({"rows": out, "times": times}))
"""


def quality_news_please(gold: list[dict], python: str) -> dict:
    # news-please takes decoded HTML; it is given the true codec, a head start the others do not get.
    codec = {"big5": "big5hkscs", "gbk": "gb18030"}
    payload = [
        {"file": str(i["file"]), "url": i["url"], "codec": codec.get(i["encoding"], "utf-8")} for i in gold
    ]
    done = subprocess.run(
        [python, "-c", NEWS_PLEASE_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [(t, datetime.fromisoformat(d) if d else None, x) for t, d, x in result["rows"]]
    return score(gold, rows, result["times"], exact_time=False)


def score(gold: list[dict], rows: list[tuple], times: list[float], *, exact_time: bool) -> dict:
    titles = dates = 0
    f1s = []
    for item, (title, published, text) in zip(gold, rows, strict=True):
        titles += normalise(title) == normalise(item["title"])
        dates += same_time(published, item["published"], exact_time)
        f1s.append(bigram_f1(text, item["body"]))
    n = len(gold)
    return {
        "articles": n,
        "title": titles / n,
        "date": dates / n,
        "body_f1": sum(f1s) / n,
        "ms_per_page": 1000 * sum(times) / n,
        "median_ms": 1000 * statistics.median(times),
        "max_ms": 1000 * max(times),
        "date_check": "instant" if exact_time else "day",
    }


def same_time(found: object, expected: datetime, exact: bool) -> bool:
    if found is None:
        return False
    if isinstance(found, str):
        try:
            found = datetime.fromisoformat(found)
        except ValueError:
            return False
    if exact:
        return found.tzinfo is not None and found == expected
    # Zone-less results are taken in the outlet's zone, the most favourable reading.
    local = found.astimezone(expected.tzinfo) if found.tzinfo else found
    return local.date() == expected.date()


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", text or "").lower()


def bigram_f1(found: str, expected: str) -> float:
    a, b = bigrams(found), bigrams(expected)
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def bigrams(text: str) -> Counter[str]:
    compact = re.sub(r"\s+", " ", text.lower())
    return Counter(compact[i : i + 2] for i in range(len(compact) - 1))


# ---- speed --------------------------------------------------------------------------------------


def speed_run(pages: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="shellwatch-bench-") as workdir:
        work = Path(workdir)
        site = work / "site"
        paths = generate_newsroom(site, pages, load_gold())
        # The site is served by its own process, so each pipeline's CPU time is its own.
        with serve_in_process(site) as base:
            registry = work / "sources.yaml"
            sources = [
                {"name": "bench-zh", "language": "zh", "sitemaps": [f"{base}/zh/sitemap.xml"]},
                {"name": "bench-en", "language": "en", "sitemaps": [f"{base}/en/sitemap.xml"]},
            ]
            registry.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
            urls = [f"{base}{path}" for path in paths]
            return {
                "shellwatch": crawl_speed(work, registry, pages),
                "trafilatura_1_thread": trafilatura_speed(urls, threads=1),
                "trafilatura_8_threads": trafilatura_speed(urls, threads=8),
            }


@contextmanager
def serve_in_process(site: Path) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def crawl_speed(work: Path, registry: Path, pages: int) -> dict:
    env = {**os.environ, "SHELLWATCH_DATA_DIR": str(work / "data"), "SHELLWATCH_LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    overrides = {
        "AUTOTHROTTLE_ENABLED": "False",
        "DOWNLOAD_DELAY": "0",
        "CONCURRENT_REQUESTS": "16",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
        "SHELLWATCH_ARTICLES_JSONL": str(work / "articles.jsonl"),
    }
    command = [sys.executable, "-m", "crawlers.run", "--sources", str(registry), "--once"]
    command += ["--stats-json", str(work / "stats.json")]
    for key, value in overrides.items():
        command += ["--set", f"{key}={value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = json.loads((work / "stats.json").read_text(encoding="utf-8"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "articles_fetched": stats["articles_fetched"],
        "stored": stats["new"],
        "seconds": stats["seconds"],
        "pages_per_second": stats["articles_fetched"] / stats["seconds"],
        "wall_seconds_with_startup": wall,
        "cpu_ms_per_page": 1000 * cpu / stats["articles_fetched"],  # includes start-up imports
        "peak_rss_mib": after.ru_maxrss / 1024,
        "failed": stats["failed_by_reason"],
        "expected": pages,
        "syndicated": stats["syndicated"],
        "irrelevant": stats["irrelevant"],
    }


def trafilatura_speed(urls: list[str], threads: int) -> dict:
    def fetch_and_extract(url: str) -> bool:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
        return trafilatura.bare_extraction(body, url=url, with_metadata=True) is not None

    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        extracted = sum(pool.map(fetch_and_extract, urls))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "articles_fetched": len(urls),
        "extracted": extracted,
        "seconds": seconds,
        "pages_per_second": len(urls) / seconds,
        "cpu_ms_per_page": 1000 * cpu / len(urls),
    }


def generate_newsroom(site: Path, pages: int, gold: list[dict]) -> list[str]:
    """Unique article pages built from the demo articles' paragraphs inside real page templates."""
    rng = random.Random(7)
    zh_paragraphs = [
        p for g in gold if g["language"] == Language.ZH for p in g["body"].split("\n\n") if p.strip()
    ]
    en_paragraphs = [
        p for g in gold if g["language"] == Language.EN for p in g["body"].split("\n\n") if p.strip()
    ]
    zh_template = TEMPLATE_ZH.read_text(encoding="utf-8")
    en_template = TEMPLATE_EN.read_text(encoding="utf-8")
    paths: list[str] = []
    entries: dict[str, list[str]] = {"zh": [], "en": []}
    for number in range(pages):
        kind = ("zh-utf8", "zh-gbk", "en")[number % 3]
        language = "en" if kind == "en" else "zh"
        paragraphs = rng.sample(en_paragraphs if language == "en" else zh_paragraphs, 5)
        marker = f"Bench story {number}." if language == "en" else f"基准测试第{number}篇。"
        # Every sentence gets the page number, so the near-duplicate check sees unique stories.
        tagged = [re.sub(r"(?<=[。！？])|(?<=[.!?])(?=\s|$)", f"({number})", p.strip()) for p in paragraphs]
        body = "\n".join(f"<p>{p}</p>" for p in [marker + tagged[0], *tagged[1:]])
        html = swap_body(
            zh_template if language == "zh" else en_template, body, f"{marker} {paragraphs[0][:30]}"
        )
        path = f"/{language}/article/{number:05d}.html"
        target = site / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "zh-gbk":
            html = html.replace('<meta charset="utf-8">', '<meta charset="gbk">')
            target.write_bytes(html.encode("gb18030", errors="replace"))
        else:
            target.write_text(html, encoding="utf-8")
        paths.append(path)
        entries[language].append(path)
    for language, items in entries.items():
        urls = "".join(f"<url><loc>{{base}}{p}</loc></url>" for p in items)
        (site / language / "sitemap.xml").write_text(
            f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>".replace("{base}", ""),
            encoding="utf-8",
        )
    return paths


def swap_body(template: str, body: str, title: str) -> str:
    """Put a new body and title into a demo page, keeping its navigation, comments and footer."""
    container = next(m for m in ('class="article-content">', 'class="story-body">') if m in template)
    start = template.index("<p>", template.index(container))
    end = template.index("</div>", start)
    page = template[:start] + body + "\n" + template[end:]
    page = re.sub(
        r'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', "", page
    )  # each page is its own
    page = re.sub(
        r"<h1([^>]*)>.*?</h1>", lambda m: f"<h1{m.group(1)}>{title}</h1>", page, count=1, flags=re.S
    )
    return re.sub(r"<title>.*?</title>", f"<title>{title}</title>", page, count=1, flags=re.S)


# ---- report -------------------------------------------------------------------------------------


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"


def render(report: dict) -> str:
    lines = [
        f"machine: {report['machine']}",
        "",
        f"Extraction quality on the {report['quality']['shellwatch']['articles']} demo newsroom articles",
        "",
        "| extractor | title exact | date correct | body bigram F1 | ms/page mean / median / max |",
        "|---|---|---|---|---|",
    ]
    for name, q in report["quality"].items():
        if "error" in q:
            lines.append(f"| {name} | failed: {q['error']} | | | |")
            continue
        lines.append(
            f"| {name} | {q['title']:.0%} | {q['date']:.0%} (by {q['date_check']}) | {q['body_f1']:.3f} "
            f"| {q['ms_per_page']:.0f} / {q['median_ms']:.0f} / {q['max_ms']:.0f} |"
        )
    speed = report["speed"]
    s = speed["shellwatch"]
    lines += [
        "",
        f"Crawl + extraction of {report['pages']} generated pages on 127.0.0.1",
        "",
        "| pipeline | pages | seconds | pages/s | CPU ms/page | peak RSS |",
        "|---|---|---|---|---|---|",
        f"| ShellWatch (Scrapy, state, relevance, dedupe, JSONL hand-off) | {s['articles_fetched']} "
        f"(stored {s['stored']}) | {s['seconds']:.1f} (wall {s['wall_seconds_with_startup']:.1f}) "
        f"| {s['pages_per_second']:.1f} | {s['cpu_ms_per_page']:.0f} | {s['peak_rss_mib']:.0f} MiB |",
    ]
    for threads in (1, 8):
        t = speed[f"trafilatura_{threads}_thread" + ("s" if threads > 1 else "")]
        lines.append(
            f"| urllib ×{threads} + plain trafilatura | {t['articles_fetched']} | {t['seconds']:.1f} "
            f"| {t['pages_per_second']:.1f} | {t['cpu_ms_per_page']:.0f} | (benchmark process) |"
        )
    lines.append(
        f"\nShellWatch: syndicated {s['syndicated']}, irrelevant {s['irrelevant']}, failed {s['failed'] or 0}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
