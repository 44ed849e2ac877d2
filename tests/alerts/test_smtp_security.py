"""SMTP_SECURITY and credentials against real aiosmtpd servers: STARTTLS, implicit TLS, AUTH.

The TLS certificate is made here for 127.0.0.1 and trusted through SSL_CERT_FILE, which
ssl.create_default_context() (what alerts.email uses) reads; nothing in production code changes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts.email import send_email
from alerts.errors import PermanentDeliveryError
from shellwatch.config import Settings, SmtpSecurity
from tests.alerts.conftest import Mailbox
from tests.support.servers import free_port

x509 = pytest.importorskip(
    "cryptography.x509", reason="cryptography (a Scrapy dependency) makes the test certificate"
)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == b"alerts" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    cert_file, key_file = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts this certificate only
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(params=["starttls", "tls"])
def secure_smtp(request, tls_context: ssl.SSLContext) -> Iterator[tuple[str, int, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    if request.param == "starttls":
        options = {"tls_context": tls_context, "require_starttls": True}
    else:
        # aiosmtpd does not count implicit TLS as TLS for its AUTH rule; the socket is encrypted.
        options = {"ssl_context": tls_context, "auth_require_tls": False}
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=check_login, auth_required=True, **options
    )
    controller.start()
    try:
        yield request.param, port, mailbox
    finally:
        controller.stop()


def message_to(address: str):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "alerts@shellwatch.example", address, "test 测试"
    message.set_content("body 正文")
    return message


# aiosmtpd warns about AUTH without TLS on every connection (in its own thread); it does not apply
# to implicit TLS, where the socket is encrypted before the first byte.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_secure_transport_with_credentials(settings: Settings, secure_smtp) -> None:
    security, port, mailbox = secure_smtp
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": SmtpSecurity(security),
            "smtp_username": "alerts",
            "smtp_password": "s3cret",
        }
    )
    send_email(configured, message_to("a@b.example"))
    [(_, recipients, received)] = mailbox.messages
    assert recipients == ["a@b.example"] and received["Subject"] == "test 测试"

    wrong = configured.model_copy(update={"smtp_password": "wrong"})
    with pytest.raises(PermanentDeliveryError, match="SMTP_USERNAME/SMTP_PASSWORD"):
        send_email(wrong, message_to("a@b.example"))
    assert len(mailbox.messages) == 1
