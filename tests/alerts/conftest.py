"""Fixtures for the alerts tests: a real webhook receiver, a real SMTP server, a store, records.

Every server binds a free 127.0.0.1 port and stops when the test ends; WEBHOOK_ALLOW names
127.0.0.1 so deliveries to these receivers pass the address check that refuses loopback otherwise.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from alerts.dispatch import plan_alerts
from nlp.knowledge_base import KnowledgeBase, load_knowledge_base
from search.backends.sqlite import SqliteStore
from search.incidents import assign_incidents
from shellwatch.config import PACKAGE_ROOT, Settings
from shellwatch.domain import (
    Alert,
    AnalysedArticle,
    Analysis,
    Article,
    Channel,
    ChannelKind,
    Claim,
    ClaimType,
    Incident,
    Language,
    Stance,
    Subscription,
    allegation_key,
    stable_id,
)
from tests.support.servers import free_port

KB_FILE = PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml"


# Settings, knowledge base, store ---------------------------------------------------------------


@pytest.fixture
def alert_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow": ["127.0.0.1"],
            # Generous for a loaded CI machine; the slow receiver answers after Receiver.slow_seconds.
            "webhook_timeout_seconds": 2.0,
            "public_url": "https://shellwatch.example",
        }
    )


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base(KB_FILE)


@pytest.fixture
def store(alert_settings: Settings, kb: KnowledgeBase) -> Iterator[SqliteStore]:
    alert_settings.ensure_data_dir()
    with SqliteStore(alert_settings.database_path, kb=kb) as opened:
        yield opened


# A webhook receiver ------------------------------------------------------------------------------


@dataclass
class ReceivedRequest:
    path: str
    headers: Message  # case-insensitive, like every web framework's request headers
    body: bytes
    at: float  # time.monotonic() when the request was read

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server recording every POST; the path picks the answer (see _Handler)."""

    base_url: str
    requests: list[ReceivedRequest] = field(default_factory=list)
    slow_seconds: float = 5.0

    def url(self, path: str) -> str:
        return self.base_url + path

    def received(self, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if urlsplit(r.path).path == path]


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.receiver.requests.append(ReceivedRequest(self.path, self.headers, body, time.monotonic()))
        parts = urlsplit(self.path)
        if parts.path == "/slow":
            time.sleep(self.receiver.slow_seconds)
            self._answer(200)
        elif parts.path == "/fail":
            self._answer(500, b"internal error")
        elif parts.path == "/gone":
            self._answer(410, b"gone")
        elif parts.path == "/redirect":
            target = parse_qs(parts.query)["to"][0]
            status = int(parse_qs(parts.query).get("status", ["302"])[0])
            self.send_response(status)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer(200, b"ok")

    def _answer(self, status: int, body: bytes = b"") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (the timeout tests): expected

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def running_receiver(host: str = "127.0.0.1") -> Iterator[Receiver]:
    """A receiver on a free port of `host` (an IPv4 or IPv6 address), stopped on exit."""
    handler = type("Handler", (_Handler,), {})
    server_class = type(
        "Server",
        (ThreadingHTTPServer,),
        {"address_family": socket.AF_INET6 if ":" in host else socket.AF_INET},
    )
    server = server_class((host, 0), handler)
    netloc = f"[{host}]" if ":" in host else host
    recorded = Receiver(f"http://{netloc}:{server.server_address[1]}")
    handler.receiver = recorded
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield recorded
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as recorded:
        yield recorded


# An SMTP server ----------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, mailbox)
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(alert_settings: Settings, smtp_server: SmtpServer) -> Settings:
    return alert_settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "alert_email_from": "alerts@shellwatch.example",
        }
    )


# Records -----------------------------------------------------------------------------------------

NOW = datetime(2023, 11, 15, 8, 30, tzinfo=UTC)


def make_claim(
    subject: str = "yi-34b",
    subject_name: str = "Yi-34B",
    claim_type: ClaimType = ClaimType.LLAMA_BASED,
    stance: Stance = Stance.ALLEGATION,
    *,
    object_id: str | None = "llama-2",
    object_name: str | None = "Llama 2",
    evidence: str = "Developers found that Yi-34B uses Llama's architecture with two tensors renamed.",
    confidence: float = 0.9,
) -> Claim:
    return Claim(
        subject=subject,
        subject_name=subject_name,
        object=object_id,
        object_name=object_name,
        type=claim_type,
        stance=stance,
        evidence=evidence,
        confidence=confidence,
    )


def make_article(
    claims: list[Claim],
    *,
    url: str = "https://news.example/yi-34b-llama",
    title: str = "Yi-34B accused of being Llama with renamed tensors",
    language: Language = Language.EN,
    published_at: datetime = NOW,
) -> AnalysedArticle:
    article = Article(
        url=url,
        canonical_url=url,
        source="news.example",
        language=language,
        title=title,
        text=" ".join(claim.evidence for claim in claims) or title,
        published_at=published_at,
        fetched_at=published_at + timedelta(minutes=5),
    )
    analysis = Analysis(language=language, relevant=True, relevance=0.95, claims=claims)
    return AnalysedArticle(article=article, analysis=analysis)


def make_incident(claim: Claim, article: AnalysedArticle) -> Incident:
    return Incident(
        id=stable_id("incident", claim.subject or claim.subject_name, "2023-11"),
        subject=claim.subject,
        subject_name=claim.subject_name,
        claim_types=[claim.type],
        title_en=f"{claim.subject_name}: {claim.type.value} allegation",
        title_zh=f"{claim.subject_name} 套壳争议",
        started_at=NOW,
        updated_at=NOW,
        article_ids=[article.id],
        allegation_keys=[allegation_key(claim)],
    )


def process(store: SqliteStore, kb: KnowledgeBase, analysed: AnalysedArticle) -> list[Alert]:
    """The worker pipeline's storage and alert steps for one analysed article."""
    store.upsert_article(analysed)
    return plan_alerts(store, analysed, assign_incidents(store, analysed, kb), kb)


def make_subscription(channels: list[Channel], **fields: object) -> Subscription:
    values: dict[str, object] = {
        "id": stable_id("test-subscription", str(fields.get("name", "s")), str(channels)),
        "name": "Yi watch",
        "secret": "test-secret-of-the-subscription",
        "created_at": NOW - timedelta(days=1),
        "channels": channels,
    }
    values.update(fields)
    return Subscription(**values)


def webhook(url: str, fmt: str = "json") -> Channel:
    return Channel(kind=ChannelKind.WEBHOOK, target=url, format=fmt)


def email_channel(address: str = "analyst@example.org") -> Channel:
    return Channel(kind=ChannelKind.EMAIL, target=address)


FEED = Channel(kind=ChannelKind.FEED)
