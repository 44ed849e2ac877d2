"""The offline demo newsroom (demo/newsroom/) is a consistent, crawlable, offline static site.

Fast checks on the files only (no server): every page parses and decodes with its declared charset,
every feed and sitemap is XML whose links resolve to files, nothing points off the machine, and
demo/expected.yaml describes every article exactly as the pages present it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lxml.etree as etree
import lxml.html
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"
NEWSROOM = DEMO / "newsroom"
EXPECTED = yaml.safe_load((DEMO / "expected.yaml").read_text(encoding="utf-8"))
ARTICLES: dict[str, dict] = EXPECTED["articles"]
BROKEN = {b["path"]: b for b in EXPECTED["broken"]}
KNOWLEDGE_BASE = REPO / "nlp" / "data" / "knowledge_base.yaml"

CLAIM_TYPES = {
    "self_developed",
    "llama_based",
    "api_distilled",
    "api_wrapper",
    "prompt_wrapper",
    "rag_wrapper",
    "fine_tuned",
}
STANCES = {"allegation", "denial", "admission", "self_claim", "analysis"}
META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
HTML_PAGES = sorted(NEWSROOM.rglob("*.html"))
FEEDS = sorted(NEWSROOM.rglob("*.xml"))


def url_path(path: Path) -> str:
    return "/" + path.relative_to(NEWSROOM).as_posix()


def resolves(url: str) -> bool:
    """True when a root-relative URL path names a file the static server would send."""
    target = NEWSROOM / urlsplit(url).path.lstrip("/")
    return target.is_file() or (target.is_dir() and (target / "index.html").is_file())


def declared_charset(data: bytes) -> str:
    match = META_CHARSET.search(data[:2048])
    assert match, "no charset declared in the first 2 KB"
    return match.group(1).decode("ascii").lower()


def decode(path: Path) -> str:
    data = path.read_bytes()
    text = data.decode(declared_charset(data))  # strict: a wrong byte raises
    assert "\ufffd" not in text
    return text


def test_layout_and_counts():
    assert (NEWSROOM / "index.html").is_file()
    assert 30 <= len(ARTICLES) <= 40
    outlets = {a["outlet"] for a in ARTICLES.values()}
    assert len(outlets) >= 4
    by_script = {s: sum(a["script"] == s for a in ARTICLES.values()) for s in ("zh-Hans", "zh-Hant", "en")}
    assert all(by_script.values()), by_script
    assert {a["encoding"] for a in ARTICLES.values()} >= {"utf-8", "big5", "gbk"}


def test_notice_on_home_page():
    home = (NEWSROOM / "index.html").read_text(encoding="utf-8")
    assert "written for the ShellWatch project" in home
    assert "written for the ShellWatch project" in (DEMO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", HTML_PAGES, ids=url_path)
def test_page_decodes_with_declared_charset_and_parses(page: Path):
    text = decode(page)
    tree = lxml.html.document_fromstring(text)
    assert tree.findtext(".//title")


@pytest.mark.parametrize("page", HTML_PAGES, ids=url_path)
def test_page_links_stay_on_the_newsroom(page: Path):
    tree = lxml.html.document_fromstring(decode(page))
    here = url_path(page)
    for element, attribute, link, _ in tree.iterlinks():
        if element.tag == "form":
            continue
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, f"{here}: absolute link {link}"
        target = urljoin(here, link)
        assert resolves(target) or target in BROKEN, f"{here}: {attribute}={link} resolves to nothing"


@pytest.mark.parametrize("page", [p for p in HTML_PAGES if url_path(p) in ARTICLES], ids=url_path)
def test_article_encoding_is_the_expected_one(page: Path):
    expected = ARTICLES[url_path(page)]
    assert declared_charset(page.read_bytes()) == expected["encoding"]


def test_encoded_outlets_use_their_charset_for_every_page():
    for outlet, charset in (("hk-techwire", "big5"), ("kejixun", "gbk")):
        pages = sorted((NEWSROOM / outlet).rglob("*.html"))
        assert pages
        for page in pages:
            data = page.read_bytes()
            assert declared_charset(data) == charset
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")  # really legacy bytes, not UTF-8 with a wrong label


def feed_links(path: Path) -> list[tuple[str, datetime]]:
    """(link, date) of every item in an RSS 2.0 feed, Atom feed or Google News sitemap."""
    root = etree.fromstring(path.read_bytes())
    ns = {
        "atom": "http://www.w3.org/2005/Atom",
        "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
        "news": "http://www.google.com/schemas/sitemap-news/0.9",
    }
    if root.tag == "rss":
        items = root.findall("./channel/item")
        for item in items:
            assert item.findtext("title") and item.findtext("guid")
        return [(i.findtext("link"), parsedate_to_datetime(i.findtext("pubDate"))) for i in items]
    if root.tag == f"{{{ns['atom']}}}feed":
        entries = root.findall("atom:entry", ns)
        for entry in entries:
            assert entry.findtext("atom:title", namespaces=ns) and entry.findtext("atom:id", namespaces=ns)
        return [
            (
                e.find("atom:link[@rel='alternate']", ns).get("href"),
                datetime.fromisoformat(e.findtext("atom:updated", namespaces=ns)),
            )
            for e in entries
        ]
    assert root.tag == f"{{{ns['sm']}}}urlset"
    return [
        (
            u.findtext("sm:loc", namespaces=ns),
            datetime.fromisoformat(u.findtext("news:news/news:publication_date", namespaces=ns)),
        )
        for u in root.findall("sm:url", ns)
    ]


@pytest.mark.parametrize("feed", FEEDS, ids=url_path)
def test_feed_is_xml_and_every_link_resolves(feed: Path):
    links = feed_links(feed)
    assert links
    for link, when in links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc and link.startswith("/"), link
        assert resolves(link), f"{url_path(feed)}: {link} resolves to nothing"
        assert when.tzinfo is not None
        if link in ARTICLES:
            assert when == datetime.fromisoformat(ARTICLES[link]["published"]), link
        else:
            assert BROKEN[link]["linked_from"] == url_path(feed)


def test_every_article_is_reachable_from_its_outlets_entry_point():
    reachable: set[str] = set()
    for feed in FEEDS:
        reachable |= {link for link, _ in feed_links(feed)}
    listing = lxml.html.document_fromstring(decode(NEWSROOM / "kejixun" / "index.html"))
    reachable |= {link for _, _, link, _ in listing.iterlinks() if "/article/" in link}
    assert set(ARTICLES) <= reachable
    assert set(BROKEN) <= reachable


def test_expected_covers_every_article_page_and_nothing_else():
    pages = {url_path(p) for p in NEWSROOM.glob("*/article/*.html")}
    assert set(ARTICLES) == pages - set(BROKEN)
    for broken in BROKEN.values():
        assert broken["kind"] in {"malformed_html", "http_404"}
        assert resolves(broken["path"]) == (broken["kind"] != "http_404")


def test_expected_entries_are_well_formed():
    incidents = EXPECTED["incidents"]
    assert len(incidents) >= 8
    for path, article in ARTICLES.items():
        assert article["outlet"] == path.split("/")[1]
        assert article["language"] in {"zh", "en"}
        assert datetime.fromisoformat(article["published"]).tzinfo is not None, path
        if article["incident"] is not None:
            assert article["incident"] in incidents, path
        if article["syndicated_from"]:
            assert article["syndicated_from"] in ARTICLES, path
        if article["relevant"] and not article["syndicated_from"]:
            assert article["claims"], f"{path}: relevant but no claims"
        if not article["relevant"]:
            assert not article["claims"] and article["incident"] is None, path
        for claim in article["claims"]:
            assert claim["type"] in CLAIM_TYPES and claim["stance"] in STANCES, (path, claim)
            assert claim["subject"] or claim["subject_name"], (path, claim)
    stances = {c["stance"] for a in ARTICLES.values() for c in a["claims"]}
    assert stances >= {"allegation", "denial", "admission", "self_claim"}
    assert sum(not a["relevant"] for a in ARTICLES.values()) >= 5


def test_every_incident_has_coverage_in_both_languages_or_is_fictional():
    for number, incident in EXPECTED["incidents"].items():
        languages = {a["language"] for a in ARTICLES.values() if a["incident"] == number}
        assert languages == {"zh", "en"} or incident["subject"] is None, (number, languages)


def _knowledge_base_ids() -> set[str]:
    ids: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("id"), str):
                ids.add(node["id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(KNOWLEDGE_BASE.read_text(encoding="utf-8")))
    return ids


@pytest.mark.skipif(not KNOWLEDGE_BASE.exists(), reason="knowledge base not written yet")
def test_entity_ids_exist_in_the_knowledge_base():
    known = _knowledge_base_ids()
    used = {
        c[key] for a in ARTICLES.values() for c in a["claims"] for key in ("subject", "object") if c.get(key)
    }
    used |= {i["subject"] for i in EXPECTED["incidents"].values() if i["subject"]}
    assert used - known == set()


def test_fictional_subjects_are_unknown_to_the_knowledge_base():
    names = {c["subject_name"] for a in ARTICLES.values() for c in a["claims"] if not c["subject"]}
    assert names, "the demo must exercise an unknown model name"
    if KNOWLEDGE_BASE.exists():
        kb = KNOWLEDGE_BASE.read_text(encoding="utf-8")
        assert not any(name in kb for name in names)


def test_page_dates_match_expected():
    """Each outlet's own date location (meta, JSON-LD, <time>, text) agrees with the ground truth."""
    for path, article in ARTICLES.items():
        when = datetime.fromisoformat(article["published"])
        tree = lxml.html.document_fromstring(decode(NEWSROOM / path.lstrip("/")))
        outlet = article["outlet"]
        if outlet == "techdaily":
            value = tree.xpath("//meta[@property='article:published_time']/@content")[0]
            assert datetime.fromisoformat(value) == when, path
        elif outlet == "ai-ledger":
            ld = json.loads(tree.xpath("//script[@type='application/ld+json']/text()")[0])
            assert datetime.fromisoformat(ld["datePublished"]) == when, path
        elif outlet == "hk-techwire":
            assert datetime.fromisoformat(tree.xpath("//time/@datetime")[0]) == when, path
        elif outlet == "kejixun":
            assert not tree.xpath(
                "//time|//meta[contains(@property, 'time')]|//script[@type='application/ld+json']"
            )
            assert f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}" in tree.text_content(), path
        elif outlet == "syndicate":
            assert f"{when:%Y-%m-%d %H:%M}" in tree.text_content(), path


def test_titles_match_expected():
    for path, article in ARTICLES.items():
        tree = lxml.html.document_fromstring(decode(NEWSROOM / path.lstrip("/")))
        assert tree.findtext(".//h1").strip() == article["title"], path


def test_syndicated_copies_repeat_the_original_under_another_title():
    copies = {p: a for p, a in ARTICLES.items() if a["syndicated_from"]}
    assert len(copies) >= 2
    for path, copy in copies.items():
        original = ARTICLES[copy["syndicated_from"]]
        assert copy["title"] != original["title"]
        body = lxml.html.document_fromstring(decode(NEWSROOM / path.lstrip("/"))).text_content()
        source = lxml.html.document_fromstring(decode(NEWSROOM / copy["syndicated_from"].lstrip("/")))
        paragraphs = [p.text_content() for p in source.xpath("//div[@class='article-content']/p")]
        assert paragraphs and all(p in body for p in paragraphs)
        assert "来源：" in body


def test_build_script_reproduces_the_committed_files(tmp_path: Path):
    out, expected = tmp_path / "newsroom", tmp_path / "expected.yaml"
    subprocess.run(
        [sys.executable, str(DEMO / "build_newsroom.py"), str(out), str(expected)],
        check=True,
        capture_output=True,
    )
    assert expected.read_bytes() == (DEMO / "expected.yaml").read_bytes()
    built = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(NEWSROOM): p.read_bytes() for p in NEWSROOM.rglob("*") if p.is_file()}
    assert built.keys() == committed.keys()
    stale = [str(name) for name in built if built[name] != committed[name]]
    assert not stale, f"run demo/build_newsroom.py: stale {stale}"


BODY_XPATH = {
    "techdaily": "//div[@class='article-content']/p",
    "ai-ledger": "//div[@class='story-body']/p",
    "hk-techwire": "//div[@id='story-text']/p",
    "kejixun": "//div[@class='art-body']/p",
    "syndicate": "//div[@class='content']/p[not(@class)]",
}


def test_article_bodies_are_news_length_prose_inside_boilerplate():
    for path, article in ARTICLES.items():
        tree = lxml.html.document_fromstring(decode(NEWSROOM / path.lstrip("/")))
        paragraphs = [p.text_content() for p in tree.xpath(BODY_XPATH[article["outlet"]])]
        size = sum(len(p) for p in paragraphs)
        assert len(paragraphs) >= 5, path
        if article["language"] == "zh":
            assert 600 <= size <= 1500, (path, size)
        else:
            assert 2500 <= size <= 4000, (path, size)
        assert article["author"] and article["author"] in tree.text_content(), path
        # navigation, related links or a footer around the body, as on a real site
        assert len(tree.xpath("//a")) >= 5, path
