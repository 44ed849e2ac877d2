"""The CLI surface is stable: every subcommand listed, configuration errors are clean exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from shellwatch.cli import COMMANDS, cli

REQUIRED = [
    "demo",
    "crawl",
    "worker",
    "serve",
    "analyze",
    "ingest",
    "articles",
    "search",
    "timeline",
    "incidents",
    "subscribe",
    "subscriptions",
    "digest",
]


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert set(REQUIRED) <= listed
    assert listed == set(COMMANDS)


def test_every_subcommand_has_help() -> None:
    for name in COMMANDS:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, f"{name}: {result.output}"
        assert "Usage:" in result.output


def test_wrong_setting_is_a_clean_error_naming_the_variable(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": "http://nope", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "shellwatch", "incidents"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
