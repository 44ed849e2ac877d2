"""The webhook receiver subscribed to new allegations: verifies each request, logs it, answers 200.

`python -m bench.e2e.receiver --port N --secret-file F --log receipts.jsonl` appends one JSON line
per request: arrival time, the `X-ShellWatch-Alert` id, whether the signature verified (the recipe
of the README's Alerts section), and the alert's article URL and subject; and a line
`{"answered": <alert id>}` once the answer is written. Killing the process is
the "receiver down" fault; starting it again on the same port ends it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def verify(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    """The README's recipe, verbatim in substance."""
    timestamp = headers["X-ShellWatch-Timestamp"]
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    fresh = abs(time.time() - int(timestamp)) <= tolerance  # rejects replays
    return fresh and hmac.compare_digest(expected, headers["X-ShellWatch-Signature"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    secret = args.secret_file.read_text(encoding="utf-8").strip()
    log = args.log.open("a", encoding="utf-8")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def do_POST(self) -> None:  # noqa: N802
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                valid = verify(secret, self.headers, body)
            except (KeyError, ValueError):
                valid = False
            record = {"t": arrived, "alert": self.headers.get("X-ShellWatch-Alert"), "valid": valid}
            try:
                payload = json.loads(body)
                record["type"] = payload.get("type")
                record["url"] = (payload.get("article") or {}).get("url")
                record["subject"] = (payload.get("claim") or {}).get("subject_name")
                record["claim_type"] = (payload.get("claim") or {}).get("type")
            except ValueError:
                record["type"] = "unparsable"
            with lock:
                log.write(json.dumps(record, ensure_ascii=False) + "\n")
                log.flush()
            self.send_response(200 if valid else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            # A second line once the answer is written: a request logged above but never answered
            # (the receiver killed in between) is one the sender must send again, and its repeat is
            # no duplicate; a repeat of an answered request is.
            with lock:
                log.write(json.dumps({"t": time.time(), "answered": record["alert"], "valid": valid}) + "\n")
                log.flush()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
