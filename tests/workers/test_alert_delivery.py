"""Alerts through the workers: a subscription's webhook hears about a new allegation once, in-process
(embedded mode) and through the `delivery` queue of a real worker, where a failing endpoint (HTTP 503)
makes the delivery task retry with backoff until it succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from search import open_store
from shellwatch.config import Settings
from shellwatch.domain import Channel, ChannelKind, Subscription
from tests.workers.conftest import wait_for_articles
from tests.workers.factories import make_article
from workers.handoff import HandOff, submit_article


class WebhookReceiver:
    """A real HTTP endpoint recording each POST's alert id; answers 503 to the first `fail_first`."""

    def __init__(self, fail_first: int = 0):
        self.alert_ids: list[str] = []
        self.refused = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.refused < receiver.fail_first:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    receiver.alert_ids.append(self.headers.get("X-ShellWatch-Alert", ""))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(fail_first=getattr(request, "param", 0))
    yield server
    server.close()


def _subscribe(settings: Settings, url: str, *, feed_only: bool = False) -> None:
    channel = Channel(kind=ChannelKind.FEED) if feed_only else Channel(kind=ChannelKind.WEBHOOK, target=url)
    with open_store(settings) as store:
        store.save_subscription(
            Subscription(
                id="bytedance-feed" if feed_only else "bytedance-watch",
                name="ByteDance allegations",
                entities=["bytedance"],
                channels=[channel],
                secret="s3cret",
                created_at=datetime.now(UTC),
            )
        )


def _process_through_a_worker(settings: Settings, start_worker):  # noqa: ANN001, ANN202 - conftest's worker
    """Start a real worker, hand it four ByteDance articles through Redis, wait until they are stored."""
    worker = start_worker(settings)
    articles = [make_article(i) for i in range(4)]
    assert [submit_article(settings, a) for a in articles] == [HandOff.QUEUED] * 4
    wait_for_articles(settings, len(articles), timeout=40, worker=worker)
    return worker


def _wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


def test_embedded_mode_delivers_a_new_allegation_once(settings: Settings, receiver: WebhookReceiver) -> None:
    settings = settings.model_copy(update={"webhook_allow": ["127.0.0.1"]})
    _subscribe(settings, receiver.url)
    bytedance = make_article(1)  # the ByteDance distillation allegation
    assert submit_article(settings, bytedance) is HandOff.PROCESSED
    first = list(receiver.alert_ids)
    assert first and len(set(first)) == len(first)  # one alert per allegation in the article
    assert submit_article(settings, bytedance) is HandOff.PROCESSED  # seen again: no second alert
    assert submit_article(settings, make_article(5)) is HandOff.PROCESSED  # same allegations, other URL
    assert receiver.alert_ids == first


@pytest.mark.slow
@pytest.mark.parametrize("receiver", [2], indirect=True)
def test_a_failing_webhook_is_retried_on_the_delivery_queue_until_it_succeeds(
    multi_settings: Settings, start_worker, receiver: WebhookReceiver
) -> None:
    settings = multi_settings.model_copy(update={"webhook_allow": ["127.0.0.1"]})
    _subscribe(settings, receiver.url)
    worker = _process_through_a_worker(settings, start_worker)
    with open_store(settings) as store:
        _wait_for(
            lambda: store.list_alerts() and not store.list_deliveries(pending_only=True),
            30,
            "alerts not delivered:\n" + worker.log()[-3000:],
        )
        planned = sorted(alert.id for alert in store.list_alerts())
    assert receiver.refused == 2
    assert sorted(receiver.alert_ids) == planned  # each alert exactly once, despite the retries
    log = worker.log()
    assert "task=workers.deliver_alert" in log and "event=task.retry" in log


@pytest.mark.slow
def test_feed_only_alerts_cost_no_delivery_task(
    multi_settings: Settings, start_worker, receiver: WebhookReceiver
) -> None:
    """Two subscriptions to the same allegations, one by webhook, one by Atom feed: both get their
    alerts, but only the webhook's become tasks on the delivery queue."""
    settings = multi_settings.model_copy(update={"webhook_allow": ["127.0.0.1"]})
    _subscribe(settings, receiver.url)
    _subscribe(settings, receiver.url, feed_only=True)
    worker = _process_through_a_worker(settings, start_worker)
    with open_store(settings) as store:
        _wait_for(
            lambda: len(receiver.alert_ids) == len(store.list_alerts("bytedance-watch")) > 0,
            30,
            "alerts not delivered:\n" + worker.log()[-3000:],
        )
        pushed = sorted(alert.id for alert in store.list_alerts("bytedance-watch"))
        pulled = store.list_alerts("bytedance-feed")
    assert len(pulled) == len(pushed)  # the feed subscriber has every alert too
    assert sorted(receiver.alert_ids) == pushed

    def delivery_tasks() -> int:
        return sum(
            "task=workers.deliver_alert" in line and "event=task.done" in line
            for line in worker.log().splitlines()
        )

    _wait_for(lambda: delivery_tasks() >= len(pushed), 10, "delivery tasks did not finish")
    time.sleep(1)  # a stray task for a feed alert would be running by now
    assert delivery_tasks() == len(pushed)
