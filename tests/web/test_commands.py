"""`shellwatch tokens` and `shellwatch serve` through the real CLI entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner

from shellwatch.cli import cli
from shellwatch.config import Settings
from tests.support.servers import free_port


def test_tokens_create_list_revoke(web_settings: Settings) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["tokens", "create", "--name", "newsroom", "--scope", "read"])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert re.fullmatch(r"sw_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}", secret)
    token_id = secret.split("_")[1]

    listed = runner.invoke(cli, ["tokens", "list", "--json"])
    (entry,) = json.loads(listed.output)
    assert (
        entry["id"] == token_id and entry["scope"] == "read" and "digest" not in entry and "salt" not in entry
    )
    assert secret not in listed.output

    assert runner.invoke(cli, ["tokens", "revoke", token_id]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["tokens", "list"]).output
    missing = runner.invoke(cli, ["tokens", "revoke", "ffffffff"])
    assert missing.exit_code != 0 and "no token" in missing.output
    assert runner.invoke(cli, ["tokens", "create", "--name", " "]).exit_code != 0
    assert runner.invoke(cli, ["tokens", "create", "--name", "x", "--scope", "admin"]).exit_code != 0


def test_serve_answers_on_the_port(web_settings: Settings) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shellwatch", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "SHELLWATCH_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "serve did not start within 30 s"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert "ShellWatch" in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        process.terminate()
        process.wait(timeout=10)
