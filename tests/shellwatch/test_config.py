"""Settings come from the environment; wrong values fail at start-up naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from shellwatch.config import ENV_NAMES, ConfigError, load_settings


def test_defaults_give_the_embedded_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.data_dir == Path("./data")
    assert settings.embedded
    assert settings.elasticsearch_url is None
    assert settings.database_path == Path("./data/shellwatch.sqlite3")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHELLWATCH_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6380/2")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://es:9200")
    monkeypatch.setenv("WEBHOOK_ALLOW", "127.0.0.1, hooks.internal ,10.0.0.0/8")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "state"
    assert not settings.embedded
    assert settings.elasticsearch_url == "http://es:9200"
    assert settings.webhook_allow == ["127.0.0.1", "hooks.internal", "10.0.0.0/8"]


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SMTP_HOST=mail.example.org\nSMTP_PORT=2525\n")
    settings = load_settings()
    assert (settings.smtp_host, settings.smtp_port) == ("mail.example.org", 2525)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_URL", "http://localhost:6379"),
        ("ELASTICSEARCH_URL", "localhost:9200"),
        ("SMTP_PORT", "seventy"),
        ("SMTP_SECURITY", "ssl3"),
        ("SHELLWATCH_LOG_LEVEL", "LOUD"),
        ("WEBHOOK_ALLOW", "not a host!"),
        ("SHELLWATCH_PUBLIC_URL", "ftp://x"),
    ],
)
def test_wrong_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert variable in str(excinfo.value)
    assert value in str(excinfo.value)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    undocumented = [name for name in ENV_NAMES.values() if f"`{name}`" not in readme]
    assert undocumented == []
