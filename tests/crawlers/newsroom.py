"""The crawler tests' local newsroom: tests/data/crawlers/newsroom served on a free 127.0.0.1 port.

Static files, with `{base}` in feeds, sitemaps and registries replaced by the server's URL, plus the
misbehaving routes a crawler meets on the real web: redirect chains, a 500, a server that hangs, a
20 MB page, a Big5 page whose charset is only in the HTTP header. Feeds answer conditional GETs
(ETag / If-None-Match) with 304. Every request path is recorded, so tests can count fetches.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NEWSROOM = Path(__file__).resolve().parents[1] / "data" / "crawlers" / "newsroom"
BIG_PAGE_BYTES = 20 * 1024 * 1024
TEMPLATED = (".xml", ".yaml", ".txt")
REDIRECTS = {
    "/redirect/1": (301, "/redirect/2"),
    "/redirect/2": (302, "/redirect/3"),
    "/redirect/3": (307, "/zh-a/redirected.html"),
}


@dataclass
class Newsroom:
    base: str
    root: Path
    requests: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def hits(self) -> Counter[str]:
        return Counter(self.requests)

    def sources_file(self, directory: Path, template: Path | None = None) -> Path:
        """The registry with `{base}` filled in, written under `directory`."""
        text = (
            (template or self.root / "sources.yaml").read_text(encoding="utf-8").replace("{base}", self.base)
        )
        path = directory / "sources.yaml"
        path.write_text(text, encoding="utf-8")
        return path


class NewsroomHandler(SimpleHTTPRequestHandler):
    newsroom: Newsroom

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?")[0]
        self.newsroom.requests.append(path)
        if path in REDIRECTS:
            status, target = REDIRECTS[path]
            self.send_response(status)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/error/500.html":
            self.send_error(500, "Internal Server Error")
        elif path.startswith("/hang/"):
            self.newsroom.stop.wait(60)  # never answers while the test runs
        elif path == "/big/page.html":
            self._big_page()
        elif path.startswith("/big5-header/"):
            self._file(path, "text/html; charset=big5")
        elif path.endswith(TEMPLATED):
            self._templated(path)
        else:
            super().do_GET()

    def _file(self, path: str, content_type: str) -> None:
        file = self.newsroom.root / path.lstrip("/")
        if not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _templated(self, path: str) -> None:
        file = self.newsroom.root / path.lstrip("/")
        if not file.is_file():
            self.send_error(404)
            return
        body = file.read_text(encoding="utf-8").replace("{base}", self.newsroom.base).encode("utf-8")
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if path.endswith(".txt") else "application/xml")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _big_page(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(BIG_PAGE_BYTES))
        self.end_headers()
        chunk = b"<p>" + "大模型套壳".encode() * 200 + b"</p>\n"
        sent = 0
        try:
            while sent < BIG_PAGE_BYTES and not self.newsroom.stop.is_set():
                piece = chunk[: BIG_PAGE_BYTES - sent]
                self.wfile.write(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up: that is the point


@contextmanager
def serve_newsroom(root: Path = NEWSROOM) -> Iterator[Newsroom]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # handler set below, once the base is known
    server.daemon_threads = True
    newsroom = Newsroom(base=f"http://127.0.0.1:{server.server_address[1]}", root=root)
    handler = type("BoundNewsroomHandler", (NewsroomHandler,), {"newsroom": newsroom})
    server.RequestHandlerClass = partial(handler, directory=str(root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield newsroom
    finally:
        newsroom.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
