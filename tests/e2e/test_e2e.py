"""The short end-to-end run (bench/e2e/run.py, `Config.short()`): every service as its own process,
a few hundred stories, the same faults as `make e2e` with shorter outages.

After each fault the run waits (bounded) until every story published so far is stored exactly
once and every alert the store recorded arrived exactly once, signed, at the webhook receiver.
"""

from __future__ import annotations

import time

import pytest

from bench.e2e.run import Config, Run

pytestmark = pytest.mark.slow

FAULTS = [
    "kill -9 crawler",
    "kill -9 worker",
    "Redis restart",
    "store locked",
    "webhook receiver down",
    "malformed burst",
    "end of run (publication stopped)",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    started = time.monotonic()
    run = Run(tmp_path_factory.mktemp("e2e") / "run", Config.short(), log=lambda message: print(message))
    outcome = run.execute()  # stops every process it started, whatever happens
    outcome["wall_seconds"] = time.monotonic() - started
    return outcome


def test_every_fault_was_injected_and_checked(results):
    assert [check["after"] for check in results["checks"]] == FAULTS
    assert results["published_stories"] >= Config.short().backlog + 100
    assert results["published_copies"] > 0
    assert results["malformed_pages"] == Config.short().malformed_burst


@pytest.mark.parametrize("fault", FAULTS)
def test_no_article_or_alert_lost_or_duplicated(results, fault):
    check = next(c for c in results["checks"] if c["after"] == fault)
    details = check["details"]
    assert check["converged_after"] is not None, check
    assert (check["missing_articles"], check["missing_alerts"]) == (0, 0), check
    assert (check["duplicated_articles"], check["duplicated_alerts"]) == (0, 0), check
    assert details["stray_articles"] == [], "a malformed page or a syndicated copy was stored on its own"
    assert details["invalid_signatures"] == 0
    assert details["receipts_for_unrecorded_alerts"] == 0
    assert details["alerts_for_unknown_subjects"] == 0
    assert details["dead_letters"] == 0


# A crawler killed mid-fetch, or Redis restarted under it, leaves claimed URLs in the frontier
# until their lease runs out (crawlers/state.py: PENDING_LEASE_SECONDS); they are fetched again then.
FRONTIER_FAULTS = {"kill -9 crawler", "Redis restart"}


def test_only_frontier_faults_leave_urls_to_the_lease(results):
    held_before = 0
    for check in results["checks"]:
        held = check["details"]["held_by_frontier_lease"]
        if check["after"] not in FRONTIER_FAULTS:
            assert held <= held_before, check
        held_before = held


def test_the_stored_articles_are_what_the_export_and_the_api_see(results):
    final = results["checks"][-1]
    stored = final["details"]["stored_articles"]
    assert stored == final["published"] - final["details"]["held_by_frontier_lease"]
    assert results["exported_articles"] == stored
    assert results["api_health"]["articles"] == stored


def test_figures_were_measured(results):
    assert results["backlog"]["articles_per_second"] > 0
    assert results["freshness"]["steady_all"]["n"] > 100
    for name in ("crawler", "worker1", "worker2", "beat", "api", "newsroom", "receiver"):
        assert results["processes"][name]["peak_rss_mib"] > 10, name
        assert results["processes"][name]["cpu_seconds"] > 0, name
    assert results["queue_depth"]["analysis"]["max"] >= 0
    assert results["wall_seconds"] < 330
