"""Alert e-mails: a bilingual (English, then Chinese) text + HTML message, sent over SMTP.

The bodies come from alerts/templates/email.txt.j2 and email.html.j2 (HTML autoescaped, so
article text can never inject markup). Every message carries the unsubscribe link in its body and
in `List-Unsubscribe` / `List-Unsubscribe-Post` headers (one-click unsubscribe, RFC 8058).
SMTP connection settings: SMTP_HOST, SMTP_PORT, SMTP_SECURITY (none / starttls / tls),
SMTP_USERNAME, SMTP_PASSWORD, ALERT_EMAIL_FROM.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import jinja2

from alerts.errors import PermanentDeliveryError, TransientDeliveryError
from alerts.messages import TEMPLATES_DIR, AlertView, Period, headline, labels, subscription_links
from shellwatch.config import Settings, SmtpSecurity
from shellwatch.domain import Subscription

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_environment.globals.update(headline=headline)


def is_email_address(address: str) -> bool:
    name, parsed = parseaddr(address)
    local, _, domain = parsed.partition("@")
    return bool(parsed == address.strip() and local and domain and " " not in parsed and not name)


def render_email(
    settings: Settings,
    subscription: Subscription,
    recipient: str,
    views: list[AlertView],
    period: Period | None = None,
) -> EmailMessage:
    """The multipart/alternative message for one alert (or a summary when `period` is given)."""
    subject = email_subject(subscription, views, period)
    links = subscription_links(settings, subscription)
    context = {
        "subscription": subscription,
        "views": views,
        "period": period,
        "links": links,
        "labels": labels(),
        "subject": subject,
    }
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.alert_email_from
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.alert_email_from.rpartition("@")[2] or None)
    message["List-Unsubscribe"] = f"<{links['unsubscribe']}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_environment.get_template("email.txt.j2").render(context), charset="utf-8")
    message.add_alternative(
        _environment.get_template("email.html.j2").render(context), subtype="html", charset="utf-8"
    )
    return message


def email_subject(subscription: Subscription, views: list[AlertView], period: Period | None) -> str:
    if period is None:
        view = views[0]
        return f"[ShellWatch] {headline(view, 'en')} | {headline(view, 'zh')}"
    label = labels()["frequencies"][period.frequency]
    return f"[ShellWatch] {label['en']} / {label['zh']}: {subscription.name} ({len(views)})"


def send_email(settings: Settings, message: EmailMessage) -> None:
    """Send through the configured SMTP server; raise Transient/PermanentDeliveryError on failure."""
    if not settings.smtp_host:
        raise PermanentDeliveryError("SMTP_HOST is not set: e-mail alerts cannot be sent")
    timeout = settings.webhook_timeout_seconds
    try:
        if settings.smtp_security is SmtpSecurity.TLS:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with client:
            if settings.smtp_security is SmtpSecurity.STARTTLS:
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        error = f"recipient refused by the SMTP server: {exc.recipients}"
        if all(code >= 500 for code in codes):
            raise PermanentDeliveryError(error) from exc
        raise TransientDeliveryError(error) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentDeliveryError(
            f"SMTP login refused ({exc.smtp_code}); check SMTP_USERNAME/SMTP_PASSWORD"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        error = f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}"
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(error) from exc
        raise TransientDeliveryError(error) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise TransientDeliveryError(
            f"SMTP server {settings.smtp_host}:{settings.smtp_port} failed: {exc}"
        ) from exc
