"""Alert e-mails received by a real SMTP server (aiosmtpd): both parts, both languages, escaping."""

from __future__ import annotations

import pytest

from alerts.delivery import deliver_alert
from alerts.email import is_email_address, send_email
from alerts.errors import PermanentDeliveryError
from alerts.tokens import unsubscribe_token
from nlp.knowledge_base import KnowledgeBase
from search.backends.sqlite import SqliteStore
from shellwatch.config import Settings
from tests.alerts.conftest import (
    SmtpServer,
    email_channel,
    make_article,
    make_claim,
    make_subscription,
    process,
)

EVIDENCE = 'Researchers said Yi-34B <script>alert("x")</script> copies Llama & renamed tensors.'


def test_alert_email_has_correct_text_and_html_parts(
    mail_settings: Settings, store: SqliteStore, kb: KnowledgeBase, smtp_server: SmtpServer
) -> None:
    subscription = make_subscription([email_channel("analyst@example.org")], name="01.AI <watch>")
    store.save_subscription(subscription)
    article = make_article([make_claim(evidence=EVIDENCE)], title="Yi-34B & Llama: <b>the tensors</b>")
    [alert] = process(store, kb, article)
    deliver_alert(mail_settings, store, alert)

    [(sender, recipients, message)] = smtp_server.mailbox.messages
    assert sender == "alerts@shellwatch.example" and recipients == ["analyst@example.org"]
    assert message["Subject"].startswith("[ShellWatch] New allegation: Yi-34B")
    assert "新指控：Yi-34B" in message["Subject"]
    unsubscribe = (
        f"https://shellwatch.example/unsubscribe/{subscription.id}?token={unsubscribe_token(subscription)}"
    )
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"

    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    # Text: both languages, the evidence verbatim, the links.
    assert "New allegation: Yi-34B — based on Llama or another open model (from Llama 2)" in text
    assert "新指控：Yi-34B — 基于Llama等开源模型（来源：Llama 2）" in text
    assert f'Evidence: "{EVIDENCE}"' in text and f"原文证据：「{EVIDENCE}」" in text
    assert "https://news.example/yi-34b-llama" in text
    assert f"https://shellwatch.example/incidents/{alert.incident_id}" in text
    assert unsubscribe in text
    # HTML: the same content, article text escaped, never markup.
    assert "<script>" not in html and "<b>the tensors</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Yi-34B &amp; Llama: &lt;b&gt;the tensors&lt;/b&gt;" in html
    assert "01.AI &lt;watch&gt;" in html
    assert 'lang="en"' in html and 'lang="zh"' in html and "基于Llama等开源模型" in html
    assert f'href="{unsubscribe.replace("&", "&amp;")}"' in html or f'href="{unsubscribe}"' in html


def test_email_without_smtp_host_is_a_permanent_error(settings: Settings) -> None:
    from email.message import EmailMessage

    with pytest.raises(PermanentDeliveryError, match="SMTP_HOST"):
        send_email(settings, EmailMessage())


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("a@b.example", True),
        ("analyst@example.org", True),
        ("no-at-sign", False),
        ("a b@c.d", False),
        ("Name <a@b.c>", False),
        ("@example.org", False),
    ],
)
def test_is_email_address(address: str, valid: bool) -> None:
    assert is_email_address(address) is valid
