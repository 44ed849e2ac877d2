"""`shellwatch digest`: files written, stdout, and clear errors (no traceback) for bad months."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from digests import default_path, write_digest
from shellwatch.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_digest_writes_to_the_data_directory_by_default(runner, settings, december_store) -> None:
    result = runner.invoke(cli, ["digest", "2023-12", "--format", "md", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    path = default_path(settings, "2023-12", "md", "zh")
    assert result.output.strip() == str(path)
    assert path.name == "shellwatch-digest-2023-12-zh.md"
    assert path.read_text("utf-8").startswith("# ShellWatch 月度简报：大模型套壳争议，2023-12")


def test_digest_to_a_file_and_to_stdout(runner, settings, december_store, tmp_path) -> None:
    target = tmp_path / "out" / "december.csv"
    result = runner.invoke(cli, ["digest", "2023-12", "--format", "csv", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text("utf-8").startswith("record,month,lang,")
    result = runner.invoke(cli, ["digest", "2023-12", "--format", "json", "-o", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["headline"]["new_incidents"]["value"] == 2


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2023-13", "'2023-13' is not a month: the month must be 01 to 12"),
        ("12-2023", "is not a month: use YYYY-MM"),
    ],
)
def test_malformed_month_is_a_usage_error(runner, settings, month, message) -> None:
    result = runner.invoke(cli, ["digest", month])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_future_month_is_a_usage_error(runner, settings) -> None:
    now = datetime.now(UTC)
    future = f"{now.year + 1}-01"
    result = runner.invoke(cli, ["digest", future, "--format", "pdf"])
    assert result.exit_code == 2
    assert f"{future} is in the future" in result.output
    assert not (settings.data_dir / "digests").exists()


def test_write_digest_replaces_atomically(settings, december_store) -> None:
    first = write_digest(settings, "2023-12", "json", "en")
    second = write_digest(settings, "2023-12", "json", "en")
    assert first == second == default_path(settings, "2023-12", "json", "en")
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no partial file left behind
