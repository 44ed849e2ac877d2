"""Configuration: one typed settings object read from the environment and an optional `.env`.

Defaults give the embedded mode (SQLite under the data directory, tasks in-process). Every
variable is listed in the README's configuration table; `load_settings` fails with a message that
names the variable when a value is wrong.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting has a wrong value; the message names the environment variable."""


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path("./data"), validation_alias=_env("SHELLWATCH_DATA_DIR"))
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    elasticsearch_url: str | None = Field(None, validation_alias=_env("ELASTICSEARCH_URL"))
    elasticsearch_index_prefix: str = Field(
        "shellwatch", validation_alias=_env("ELASTICSEARCH_INDEX_PREFIX"), pattern=r"^[a-z0-9][a-z0-9_-]*$"
    )
    sources_file: Path = Field(
        PACKAGE_ROOT / "crawlers" / "sources.yaml", validation_alias=_env("SHELLWATCH_SOURCES")
    )
    knowledge_base_file: Path = Field(
        PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml",
        validation_alias=_env("SHELLWATCH_KNOWLEDGE_BASE"),
    )
    # When claims are evidence enough to open an incident (and so to alert): see the file's comments.
    incident_opening_file: Path = Field(
        PACKAGE_ROOT / "search" / "data" / "incident_opening.yaml",
        validation_alias=_env("SHELLWATCH_INCIDENT_OPENING"),
    )
    public_url: str = Field("http://127.0.0.1:8000", validation_alias=_env("SHELLWATCH_PUBLIC_URL"))
    log_level: str = Field("INFO", validation_alias=_env("SHELLWATCH_LOG_LEVEL"))
    user_agent: str = Field(
        "ShellWatch/0.1 (+https://github.com/shellwatch/shellwatch; news monitoring)",
        validation_alias=_env("SHELLWATCH_USER_AGENT"),
    )
    api_read_open: bool = Field(True, validation_alias=_env("SHELLWATCH_API_READ_OPEN"))

    smtp_host: str | None = Field(None, validation_alias=_env("SMTP_HOST"))
    smtp_port: int = Field(25, ge=1, le=65535, validation_alias=_env("SMTP_PORT"))
    smtp_security: SmtpSecurity = Field(SmtpSecurity.NONE, validation_alias=_env("SMTP_SECURITY"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME"))
    smtp_password: str | None = Field(None, validation_alias=_env("SMTP_PASSWORD"))
    alert_email_from: str = Field("shellwatch@localhost", validation_alias=_env("ALERT_EMAIL_FROM"))
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, validation_alias=_env("WEBHOOK_TIMEOUT_SECONDS")
    )
    # Private, loopback and link-local webhook targets are refused unless listed here.
    webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("WEBHOOK_ALLOW")
    )
    # Who receives the monthly digest by e-mail (digests.send_digest); empty → nobody.
    digest_recipients: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("SHELLWATCH_DIGEST_RECIPIENTS")
    )
    # Celery (multi-service mode): hard time limit of every task; the broker redelivers a task whose
    # worker died after the visibility timeout, so it must exceed the time limit (checked below).
    task_time_limit_seconds: float = Field(600.0, gt=1, validation_alias=_env("SHELLWATCH_TASK_TIME_LIMIT"))
    visibility_timeout_seconds: float = Field(
        3600.0, gt=1, validation_alias=_env("SHELLWATCH_VISIBILITY_TIMEOUT")
    )
    # Celery beat crawls each source on its interval; turn off when a `shellwatch crawl` service polls instead.
    beat_crawl: bool = Field(True, validation_alias=_env("SHELLWATCH_BEAT_CRAWL"))

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("elasticsearch_url")
    @classmethod
    def _es_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("visibility_timeout_seconds")
    @classmethod
    def _visibility_above_time_limit(cls, value: float, info: ValidationInfo) -> float:
        limit = info.data.get("task_time_limit_seconds")
        if limit is not None and value <= limit:
            raise ValueError(f"must exceed SHELLWATCH_TASK_TIME_LIMIT ({limit:g}s)")
        return value

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for entry in value or []:
            _validate_allow_entry(entry)
        return value

    @field_validator("digest_recipients", mode="before")
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for address in value or []:
            local, at, domain = str(address).partition("@")
            if not (local and at and "." in domain) or any(c.isspace() or c in "<>," for c in str(address)):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @property
    def embedded(self) -> bool:
        """True when tasks run in-process (no broker configured)."""
        return self.redis_url is None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "shellwatch.sqlite3"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


def _validate_allow_entry(entry: str) -> None:
    """An allow-list entry is a host name, an IP address or a CIDR network."""
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        if not entry.replace("-", "").replace(".", "").isalnum():
            raise ValueError(f"{entry!r} is neither a host name, an IP address nor a network") from None


ENV_NAMES = {
    name: field.validation_alias.choices[0]  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise ConfigError naming the variable on a wrong value."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            variable = ENV_NAMES.get(field, field.upper())
            problems.append(f"{variable}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
