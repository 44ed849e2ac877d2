"""`shellwatch subscribe` and `shellwatch subscriptions` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from alerts.delivery import deliver_alerts
from search.backends.sqlite import SqliteStore
from shellwatch.cli import cli
from shellwatch.config import load_settings
from tests.alerts.conftest import KB_FILE, Receiver, SmtpServer, make_article, make_claim, process


@pytest.fixture
def run(settings, monkeypatch: pytest.MonkeyPatch):
    """Invoke the CLI with WEBHOOK_ALLOW=127.0.0.1 and the shipped knowledge base."""
    monkeypatch.setenv("WEBHOOK_ALLOW", "127.0.0.1")
    monkeypatch.setenv("SHELLWATCH_KNOWLEDGE_BASE", str(KB_FILE))
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "1")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def subscription_id(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.split()[1]  # "subscribed: <id> (<name>)"


def test_subscribe_list_pause_resume_show_delete(
    run, receiver: Receiver, smtp_server: SmtpServer, monkeypatch
) -> None:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    created = run(
        "subscribe",
        "--name",
        "ByteDance watch",
        "--entity",
        "字节跳动",
        "--type",
        "api_distilled",
        "--webhook",
        receiver.url("/ok"),
        "--email",
        "a@b.example",
        "--feed",
        "--frequency",
        "immediate",
    )
    identifier = subscription_id(created)
    assert "feed URL: http://127.0.0.1:8000/feeds/" in created.output
    assert "Webhook signing secret" in created.output

    listed = json.loads(run("subscriptions", "--json").output)
    assert [s["id"] for s in listed] == [identifier]
    assert listed[0]["entities"] == ["bytedance"] and listed[0]["claim_types"] == ["api_distilled"]
    assert "secret" not in listed[0]  # lists never print secrets
    assert [c["kind"] for c in listed[0]["channels"]] == ["webhook", "email", "feed"]

    assert run("subscriptions", "pause", identifier).exit_code == 0
    assert f"{identifier}  paused" in run("subscriptions", "list").output
    assert run("subscriptions", "resume", identifier).exit_code == 0
    assert f"{identifier}  active" in run("subscriptions").output

    shown = json.loads(run("subscriptions", "show", identifier, "--json").output)
    assert shown["secret"] and shown["links"]["feed"].startswith("http://127.0.0.1:8000/feeds/")
    assert [s["state"] for s in shown["channel_status"]] == ["idle", "idle", "ok"]  # nothing sent yet

    tested = run("subscriptions", "test", identifier)
    assert tested.exit_code == 0, tested.output
    assert len(receiver.requests) == 1 and len(smtp_server.mailbox.messages) == 1

    assert run("subscriptions", "delete", identifier).exit_code == 0
    assert run("subscriptions", "--json").output.strip() == "[]"
    missing = run("subscriptions", "delete", identifier)
    assert missing.exit_code == 1 and f"no subscription '{identifier}'" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--entity", "NoSuchCorp", "--feed"], "unknown entity: 'NoSuchCorp'"),
        (["--webhook", "http://169.254.169.254/latest/meta-data/"], "link-local"),
        (["--webhook", "http://10.0.0.1/hook"], "private"),
        (["--webhook", "ftp://example.org/x"], "http:// or https://"),
        (["--email", "someone@example.org"], "SMTP_HOST"),
        (["--email", "not an address", "--feed"], "not an e-mail address"),
        (["--query", "llama AND (", "--feed"], "malformed"),
        ([], "at least one channel"),
    ],
)
def test_subscribe_refuses_bad_input_clearly(run, args: list[str], message: str) -> None:
    result = run("subscribe", "--name", "bad", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert run("subscriptions", "--json").output.strip() == "[]"


def test_show_explains_a_failing_channel(run, receiver: Receiver, kb) -> None:
    identifier = subscription_id(
        run("subscribe", "--name", "Yi", "--entity", "01.AI", "--webhook", receiver.url("/fail"))
    )
    settings = load_settings()
    with SqliteStore(settings.database_path, kb=kb) as store:
        deliver_alerts(settings, store, process(store, kb, make_article([make_claim()])))
    shown = run("subscriptions", "show", identifier)
    assert (
        f"webhook:{receiver.url('/fail')}: retrying (attempts 1; last error: transient: HTTP 500"
        in shown.output
    )
    assert "allegation Yi-34B — llama_based" in shown.output
