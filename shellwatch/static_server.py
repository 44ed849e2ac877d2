"""Serve a directory over HTTP on 127.0.0.1 in a background thread (the demo newsroom, test sites).

Python's SimpleHTTPRequestHandler answers conditional GETs (If-Modified-Since) from file times,
which is what the crawler's feed validators expect of a real site.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".xml": "application/xml",
        ".rss": "application/rss+xml",
        ".atom": "application/atom+xml",
    }

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def serve_directory(
    root: Path, handler: type[SimpleHTTPRequestHandler] = QuietHandler, port: int = 0
) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 (a free port unless given); yields the base URL, no trailing slash."""
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
