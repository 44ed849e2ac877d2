"""The test newsroom: a local HTTP server on 127.0.0.1 that publishes stories into feeds over time.

`python -m bench.e2e.newsroom --plan PLAN.json --port N` serves:

- `/kejibao/rss.xml` (Chinese, RSS 2.0), `/ledger/atom.xml` (English, Atom), and the aggregators
  `/zhuanzai/rss.xml`, `/wire/rss.xml` that republish some stories (转载) a few seconds later;
- each story's page, and the bad pages of a burst (HTTP 500/404, empty, binary, no text, PDF,
  truncated body) listed in the feeds like any article;
- `/robots.txt` (everything allowed);
- control: `POST /_control/stop` freezes publication; `GET /_control/published` lists what was
  published and when (the clock freshness is measured from); `POST /_control/burst?n=N` publishes N
  bad pages now.

The plan (written by the harness) gives each story its publication time in seconds after `start`
(a unix time). A feed lists everything published so far, newest first, up to `--window` entries.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bench.e2e.corpus import BAD_KINDS, BadPage, Story, copy_text, copy_title

FEEDS = {
    "kejibao": ("rss", "zh", "科技报"),
    "ledger": ("atom", "en", "The Ledger"),
    "zhuanzai": ("rss", "zh", "转载网"),
    "wire": ("rss", "en", "The Wire"),
}
FEED_FILE = {"rss": "rss.xml", "atom": "atom.xml"}


class Newsroom:
    def __init__(self, plan: dict, base: str, window: int):
        self.base = base
        self.window = window
        self.start = float(plan["start"])
        self.copy_delay = float(plan.get("copy_delay", 5.0))
        self.stories = [Story(**item) for item in plan["stories"]]
        self.at = [float(t) for t in plan["at"]]
        self.by_path: dict[str, tuple[str, Story]] = {}
        for item in self.stories:
            self.by_path[item.path] = ("original", item)
            if item.copy_path:
                self.by_path[item.copy_path] = ("copy", item)
        self.stopped_at: float | None = None
        self.bad: list[tuple[float, BadPage]] = []
        self.lock = threading.Lock()
        self.requests = 0

    def now(self) -> float:
        moment = time.time()
        return min(moment, self.stopped_at) if self.stopped_at is not None else moment

    def entries(self, outlet: str) -> list[tuple[float, str, str, str]]:
        """(published at, path, title, summary) of everything in this feed so far, newest first."""
        now = self.now()
        found = []
        for item, offset in zip(self.stories, self.at, strict=True):
            when = self.start + offset
            if when > now:
                break  # the plan is in publication order
            if item.outlet == outlet:
                found.append((when, item.path, item.title, item.text[:80]))
            elif item.copy_outlet == outlet and when + self.copy_delay <= now:
                found.append((when + self.copy_delay, item.copy_path, copy_title(item), ""))
        with self.lock:
            bad = [(when, page) for when, page in self.bad if page.outlet == outlet and when <= now]
        found.extend((when, page.path, f"Page {page.number}", "") for when, page in bad)
        found.sort(key=lambda entry: entry[0], reverse=True)
        return found[: self.window]

    def published(self) -> dict:
        now = self.now()
        stories = []
        for item, offset in zip(self.stories, self.at, strict=True):
            when = self.start + offset
            if when > now:
                break
            copy_at = when + self.copy_delay if item.copy_path and when + self.copy_delay <= now else None
            stories.append({"number": item.number, "published_at": when, "copy_published_at": copy_at})
        with self.lock:
            bad = [{"number": p.number, "kind": p.kind, "path": p.path, "at": w} for w, p in self.bad]
        return {"stories": stories, "bad": bad, "stopped_at": self.stopped_at, "requests": self.requests}

    def burst(self, count: int) -> None:
        now = time.time()
        with self.lock:
            first = len(self.bad)
            for index in range(first, first + count):
                outlet = ("kejibao", "ledger")[index % 2]
                self.bad.append((now, BadPage(index, outlet, BAD_KINDS[index % len(BAD_KINDS)])))


def rss(newsroom: Newsroom, outlet: str) -> bytes:
    _, language, name = FEEDS[outlet]
    items = "".join(
        f"<item><title>{escape(title)}</title><link>{newsroom.base}{path}</link>"
        f'<guid isPermaLink="true">{newsroom.base}{path}</guid>'
        f"<pubDate>{format_datetime(datetime.fromtimestamp(when, UTC), usegmt=True)}</pubDate>"
        f"<description>{escape(summary)}</description></item>"
        for when, path, title, summary in newsroom.entries(outlet)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(name)}</title><link>{newsroom.base}/{outlet}/</link>"
        f"<language>{language}</language><description>{escape(name)}</description>{items}</channel></rss>"
    ).encode()


def atom(newsroom: Newsroom, outlet: str) -> bytes:
    _, language, name = FEEDS[outlet]
    entries = newsroom.entries(outlet)
    updated = datetime.fromtimestamp(entries[0][0] if entries else newsroom.start, UTC).isoformat()
    body = "".join(
        f'<entry><title>{escape(title)}</title><link href="{newsroom.base}{path}"/>'
        f"<id>{newsroom.base}{path}</id>"
        f"<updated>{datetime.fromtimestamp(when, UTC).isoformat()}</updated>"
        f"<published>{datetime.fromtimestamp(when, UTC).isoformat()}</published>"
        f"<summary>{escape(summary)}</summary></entry>"
        for when, path, title, summary in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{language}">'
        f"<title>{escape(name)}</title><id>{newsroom.base}/{outlet}/</id><updated>{updated}</updated>"
        f'<link href="{newsroom.base}/{outlet}/"/>{body}</feed>'
    ).encode()


def article_page(newsroom: Newsroom, kind: str, item: Story, published: float) -> bytes:
    title, text = (item.title, item.text) if kind == "original" else (copy_title(item), copy_text(item))
    path = item.path if kind == "original" else item.copy_path
    when = datetime.fromtimestamp(published, UTC).isoformat()
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in text.splitlines())
    lang = "zh-CN" if item.language == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<link rel="canonical" href="{newsroom.base}{path}">'
        f'<meta property="article:published_time" content="{when}"></head><body>'
        f'<nav><a href="/{item.outlet}/">Home</a></nav><article><h1>{escape(title)}</h1>'
        f'<time datetime="{when}">{when}</time>{paragraphs}</article></body></html>'
    ).encode()


def make_handler(newsroom: Newsroom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def send(self, status: int, body: bytes, content_type: str, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path == "/_control/stop":
                newsroom.stopped_at = newsroom.stopped_at or time.time()
                self.send(200, b"stopped", "text/plain")
            elif parts.path == "/_control/burst":
                count = int(parse_qs(parts.query).get("n", ["50"])[0])
                newsroom.burst(count)
                self.send(200, b"burst", "text/plain")
            else:
                self.send(404, b"not found", "text/plain")

        def do_GET(self) -> None:  # noqa: N802
            newsroom.requests += 1
            path = urlsplit(self.path).path
            if path == "/robots.txt":
                self.send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                return
            if path == "/_control/published":
                self.send(200, json.dumps(newsroom.published()).encode(), "application/json")
                return
            outlet, _, rest = path.strip("/").partition("/")
            if outlet in FEEDS and rest == FEED_FILE[FEEDS[outlet][0]]:
                kind = FEEDS[outlet][0]
                body = rss(newsroom, outlet) if kind == "rss" else atom(newsroom, outlet)
                self.send(200, body, "application/rss+xml" if kind == "rss" else "application/atom+xml")
                return
            if rest.startswith("article/bad-"):
                self.bad_page(path)
                return
            found = newsroom.by_path.get(path)
            if found is None:
                self.send(404, b"<html><body>not found</body></html>", "text/html")
                return
            kind, item = found
            index = item.number
            published = newsroom.start + newsroom.at[index] + (newsroom.copy_delay if kind == "copy" else 0)
            if published > newsroom.now():
                self.send(404, b"<html><body>not yet</body></html>", "text/html")
                return
            self.send(200, article_page(newsroom, kind, item, published), "text/html; charset=utf-8")

        def bad_page(self, path: str) -> None:
            with newsroom.lock:
                pages = {page.path: page for _, page in newsroom.bad}
            page = pages.get(path)
            kind = page.kind if page else "http404"
            if kind == "http500":
                self.send(500, b"<html><body>internal error</body></html>", "text/html")
            elif kind == "http404":
                self.send(404, b"<html><body>gone</body></html>", "text/html")
            elif kind == "empty":
                self.send(200, b"", "text/html; charset=utf-8")
            elif kind == "binary":
                self.send(200, bytes(range(256)) * 16, "text/html")
            elif kind == "no_text":
                self.send(
                    200,
                    b"<html><head><title>x</title></head><body><nav><a href='/'>home</a></nav></body></html>",
                    "text/html",
                )
            elif kind == "pdf":
                self.send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n", "application/pdf")
            else:  # truncated: promises more than it sends, then closes
                self.send(200, b"<html><body><p>cut", "text/html", length=5000)
                self.close_connection = True

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--window", type=int, default=1000, help="entries per feed, newest first")
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    newsroom = Newsroom(plan, f"http://127.0.0.1:{args.port}", args.window)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(newsroom))
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
