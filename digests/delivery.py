"""E-mail a written digest file to the digest recipients (SHELLWATCH_DIGEST_RECIPIENTS).

Transport is the alert e-mail sender (alerts.email.send_email: SMTP_* settings, ALERT_EMAIL_FROM).
Each recipient gets a digest file at most once: successful sends are logged next to the file
(`<file>.sent.json`), so the monthly task can be retried after a transient SMTP failure without
sending twice to those already served. A recipient the server refuses permanently is reported and
skipped; a transient failure is raised after the others were tried, so the task retries.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from digests.errors import DigestError
from digests.labels import labels_for
from shellwatch.config import Settings
from shellwatch.domain import Language

log = logging.getLogger(__name__)

_NAME = re.compile(r"shellwatch-digest-(\d{4}-\d{2})-(en|zh)\.\w+")


@dataclass(frozen=True)
class DigestSend:
    recipient: str
    sent: bool  # False: skipped (already sent) or refused
    error: str | None = None


def send_digest(settings: Settings, path: Path, recipients: list[str] | None = None) -> list[DigestSend]:
    """Send `path` to each recipient (default: settings.digest_recipients) not yet sent it."""
    from alerts.email import send_email
    from alerts.errors import PermanentDeliveryError, TransientDeliveryError

    path = Path(path)
    if not path.is_file():
        raise DigestError(f"no digest file at {path}")
    recipients = list(dict.fromkeys(recipients if recipients is not None else settings.digest_recipients))
    if recipients and not settings.smtp_host:
        raise DigestError("SMTP_HOST is not set: the digest cannot be e-mailed")
    ledger = _Ledger(path)
    results: list[DigestSend] = []
    transient: TransientDeliveryError | None = None
    for recipient in recipients:
        if ledger.has(recipient):
            results.append(DigestSend(recipient, sent=False))
            continue
        try:
            send_email(settings, digest_message(settings, path, recipient))
        except PermanentDeliveryError as exc:
            log.warning("digest.refused file=%s recipient=%s error=%s", path.name, recipient, exc)
            results.append(DigestSend(recipient, sent=False, error=str(exc)))
            continue
        except TransientDeliveryError as exc:
            log.warning("digest.retry file=%s recipient=%s error=%s", path.name, recipient, exc)
            results.append(DigestSend(recipient, sent=False, error=str(exc)))
            transient = transient or exc
            continue
        ledger.add(recipient)
        log.info("digest.sent file=%s recipient=%s", path.name, recipient)
        results.append(DigestSend(recipient, sent=True))
    if transient is not None:
        raise transient
    return results


def digest_message(settings: Settings, path: Path, recipient: str) -> EmailMessage:
    """A bilingual note (English, then Chinese) with the digest file attached."""
    match = _NAME.fullmatch(path.name)
    month = match.group(1) if match else path.stem
    first = Language(match.group(2)) if match else Language.EN
    languages = [first, *(lang for lang in Language if lang is not first)]
    texts = [labels_for(lang) for lang in languages]
    message = EmailMessage()
    message["Subject"] = "[ShellWatch] " + " / ".join(t["email_subject"].format(month=month) for t in texts)
    message["From"] = settings.alert_email_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.alert_email_from.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "\n\n".join(t["email_body"].format(month=month, file=path.name) for t in texts) + "\n",
        charset="utf-8",
    )
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".md":
        media_type = "text/markdown"
    maintype, subtype = media_type.split("/", 1)
    message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


class _Ledger:
    """Recipients already sent one digest file, kept beside it (the data directory is shared)."""

    def __init__(self, digest: Path):
        self.path = digest.with_name(digest.name + ".sent.json")
        try:
            self.entries: dict[str, str] = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            self.entries = {}
        except (OSError, ValueError) as exc:
            raise DigestError(f"unreadable send log {self.path}: {exc}") from exc

    def has(self, recipient: str) -> bool:
        return recipient.lower() in self.entries

    def add(self, recipient: str) -> None:
        self.entries[recipient.lower()] = datetime.now(UTC).isoformat(timespec="seconds")
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self.entries, indent=2, sort_keys=True), encoding="utf-8")
        partial.replace(self.path)
