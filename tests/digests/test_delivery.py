"""send_digest: the digest file e-mailed through a real SMTP server (aiosmtpd), once per recipient."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from alerts.errors import TransientDeliveryError
from digests import DigestError, send_digest, write_digest
from shellwatch.config import Settings
from tests.support.servers import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[_Inbox, int]]:
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def _with_smtp(settings: Settings, port: int, recipients: str) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "digest_recipients": [r.strip() for r in recipients.split(",")],
            "alert_email_from": "digests@shellwatch.test",
        }
    )


def test_digest_is_sent_once_to_each_recipient(settings, december_store, inbox) -> None:
    handler, port = inbox
    settings = _with_smtp(settings, port, "ana@example.com, li@example.org")
    path = write_digest(settings, "2023-12", "json", "zh")
    results = send_digest(settings, path)
    assert [(r.recipient, r.sent) for r in results] == [("ana@example.com", True), ("li@example.org", True)]
    assert len(handler.messages) == 2
    message = handler.messages[0]
    assert (
        message["Subject"] == "[ShellWatch] ShellWatch 月度简报 2023-12 / ShellWatch monthly digest 2023-12"
    )
    assert message["To"] == "ana@example.com" and message["From"] == "digests@shellwatch.test"
    assert "附件为 ShellWatch 2023-12" in message.get_body(("plain",)).get_content()
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "shellwatch-digest-2023-12-zh.json"
    assert attachment.get_content_type() == "application/json"
    assert attachment.get_payload(decode=True) == path.read_bytes()
    # A retried task sends nothing twice.
    again = send_digest(settings, path)
    assert [r.sent for r in again] == [False, False] and len(handler.messages) == 2


def test_refused_recipient_is_reported_and_others_still_served(settings, december_store, inbox) -> None:
    handler, port = inbox
    handler.refuse.add("gone@example.com")
    settings = _with_smtp(settings, port, "gone@example.com,ana@example.com")
    path = write_digest(settings, "2023-12", "md", "en")
    results = send_digest(settings, path)
    assert [(r.recipient, r.sent) for r in results] == [
        ("gone@example.com", False),
        ("ana@example.com", True),
    ]
    assert "550" in (results[0].error or "")
    assert handler.messages[0].get_content_type() == "multipart/mixed"


def test_unreachable_server_is_transient_and_nothing_is_logged_as_sent(settings, december_store) -> None:
    settings = _with_smtp(settings, free_port(), "ana@example.com")
    path = write_digest(settings, "2023-12", "json", "en")
    with pytest.raises(TransientDeliveryError):
        send_digest(settings, path)
    assert not path.with_name(path.name + ".sent.json").exists()


def test_without_smtp_host_sending_is_a_clear_error(settings, december_store) -> None:
    settings = settings.model_copy(update={"digest_recipients": ["ana@example.com"]})
    path = write_digest(settings, "2023-12", "md", "en")
    with pytest.raises(DigestError, match="SMTP_HOST is not set"):
        send_digest(settings, path)
    assert send_digest(settings, path, recipients=[]) == []  # no recipients: nothing to do


def test_recipients_setting_is_read_and_validated(monkeypatch, tmp_path) -> None:
    from shellwatch.config import ConfigError, load_settings

    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("SHELLWATCH_DIGEST_RECIPIENTS", " ana@example.com , li@example.org ")
    assert load_settings().digest_recipients == ["ana@example.com", "li@example.org"]
    monkeypatch.setenv("SHELLWATCH_DIGEST_RECIPIENTS", "ana@example.com, not-an-address")
    with pytest.raises(
        ConfigError, match="SHELLWATCH_DIGEST_RECIPIENTS: .*'not-an-address' is not an e-mail address"
    ):
        load_settings()


def test_cli_send_flag(settings, december_store, inbox, monkeypatch) -> None:
    from click.testing import CliRunner

    from shellwatch.cli import cli

    handler, port = inbox
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("SHELLWATCH_DIGEST_RECIPIENTS", "ana@example.com")
    result = CliRunner().invoke(cli, ["digest", "2023-12", "--format", "csv", "--send"])
    assert result.exit_code == 0, result.output
    assert "ana@example.com: sent" in result.stderr
    assert len(handler.messages) == 1
    again = CliRunner().invoke(cli, ["digest", "2023-12", "--format", "csv", "--send"])
    assert "ana@example.com: sent before" in again.stderr and len(handler.messages) == 1
    refused = CliRunner().invoke(cli, ["digest", "2023-12", "--send", "-o", "-"])
    assert refused.exit_code == 2 and "--send needs a file" in refused.output
