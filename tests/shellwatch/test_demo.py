"""`shellwatch demo` end to end: the newsroom really travels through Scrapy, tasks, NLP and store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nlp.knowledge_base import load_knowledge_base
from shellwatch.config import PACKAGE_ROOT
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def run_shellwatch(
    args: list[str], cwd: Path, data_dir: Path, home: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "SHELLWATCH_DATA_DIR": str(data_dir),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "shellwatch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("demo")
    cwd, home, data_dir = root / "cwd", root / "home", root / "state"
    cwd.mkdir()
    home.mkdir()
    port = str(free_port())
    first = run_shellwatch(["demo", "--newsroom-port", port], cwd, data_dir, home)
    assert first.returncode == 0, first.stderr[-3000:]
    articles_after_first = json.loads(run_shellwatch(["articles", "--json"], cwd, data_dir, home).stdout)
    second = run_shellwatch(["demo", "--newsroom-port", port], cwd, data_dir, home)
    assert second.returncode == 0, second.stderr[-3000:]
    articles_after_second = json.loads(run_shellwatch(["articles", "--json"], cwd, data_dir, home).stdout)
    incidents = json.loads(run_shellwatch(["incidents", "--json"], cwd, data_dir, home).stdout)
    return {
        "cwd": cwd,
        "home": home,
        "data_dir": data_dir,
        "first": first,
        "second": second,
        "articles": articles_after_first,
        "articles_again": articles_after_second,
        "incidents": incidents,
    }


def test_demo_shows_timeline_alerts_and_digest(demo_run: dict) -> None:
    output = demo_run["first"].stdout
    assert "Incident timeline" in output
    assert "Alerts that fired" in output
    assert "Digest written:" in output
    for line in output.splitlines():
        if line.startswith("Digest written:"):
            path = Path(line.split(":", 1)[1].strip())
            assert path.is_file() and path.stat().st_size > 500
            assert demo_run["data_dir"] in path.parents


def test_demo_articles_cover_both_languages_and_scripts(demo_run: dict) -> None:
    articles = demo_run["articles"]
    assert len(articles) >= 20
    languages = {item["article"]["language"] for item in articles}
    assert languages == {"zh", "en"}
    texts = " ".join(item["article"]["text"] for item in articles)
    assert "\ufffd" not in texts  # no mojibake from the GBK and Big5 outlets
    assert any(item["analysis"]["claims"] for item in articles)


def test_demo_finds_incidents_in_both_languages(demo_run: dict) -> None:
    incidents = demo_run["incidents"]
    subjects = {incident["subject"] for incident in incidents}
    assert {"yi-34b", "01-ai"} & subjects
    assert any(len(incident["article_ids"]) >= 2 for incident in incidents)


def test_demo_incidents_are_the_newsroom_controversies(demo_run: dict) -> None:
    """What a user checks on the incident list: each controversy the newsroom covers is there, and
    little else. Before the trained claim classifier the demo showed 36 incidents for 8
    controversies, one of them missing ("Llama accused …", "Microsoft accused of distilling …", "技术 accused …");
    before incidents needed corroboration (search/data/incident_opening.yaml), 16 with 7 spurious."""
    expected = yaml.safe_load((PACKAGE_ROOT / "demo" / "expected.yaml").read_text(encoding="utf-8"))[
        "incidents"
    ]
    kb = load_knowledge_base(PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml")

    def covers(controversy: dict, incident: dict) -> bool:
        if controversy["subject"] is not None:
            return kb.same_party(controversy["subject"], incident["subject"])
        # A company the knowledge base does not know: its names share the brand (衡川智能, 衡川法律大模型).
        names = [controversy["subject_name"], *controversy.get("aliases", [])]
        return incident["subject"] is None and any(incident["subject_name"][:2] == name[:2] for name in names)

    incidents = demo_run["incidents"]
    missing = [c["title_en"] for c in expected.values() if not any(covers(c, i) for i in incidents)]
    assert missing == []
    spurious = [i["title_en"] for i in incidents if not any(covers(c, i) for c in expected.values())]
    # Each spurious incident came from one misread claim (a source model or its vendor named as the
    # accused, a quoted word read as a product): none is corroborated by a second outlet.
    assert spurious == []
    assert len(incidents) <= 2 * len(expected)


def test_rerunning_the_demo_is_safe(demo_run: dict) -> None:
    first = sorted(item["article"]["id"] for item in demo_run["articles"])
    again = sorted(item["article"]["id"] for item in demo_run["articles_again"])
    assert first == again


def test_demo_keeps_all_state_in_the_data_directory(demo_run: dict) -> None:
    assert sorted(p.name for p in demo_run["cwd"].iterdir()) == []
    assert sorted(p.name for p in demo_run["home"].iterdir()) == []
    assert (demo_run["data_dir"] / "shellwatch.sqlite3").exists()
