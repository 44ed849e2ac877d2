"""End to end in a real headless Chromium (Debian's, driven by Playwright) against the app served
by uvicorn on 127.0.0.1: search in Chinese, the timeline, an incident, a subscription, a digest
download, the language switch, and an XSS payload in a stored article that must not run."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.backends.admin import TokenScope
from shellwatch.config import Settings, load_settings
from tests.support.servers import free_port
from tests.web.conftest import fill_store, make_corpus, make_token, write_kb

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, write token) of the app on a free port with the bilingual corpus loaded."""
    import uvicorn

    from web.app import create_app

    root = tmp_path_factory.mktemp("web-browser")
    with pytest.MonkeyPatch.context() as env:
        for name in ("REDIS_URL", "ELASTICSEARCH_URL"):
            env.delenv(name, raising=False)
        env.setenv("SHELLWATCH_DATA_DIR", str(root / "data"))
        env.setenv("SHELLWATCH_KNOWLEDGE_BASE", str(write_kb(root / "kb.yaml")))
        env.setenv(
            "SHELLWATCH_SOURCES", str(Path(__file__).resolve().parents[2] / "crawlers" / "sources.yaml")
        )
        env.chdir(root)
        settings: Settings = load_settings()
    fill_store(settings, make_corpus())
    token = make_token(settings, TokenScope.WRITE, "browser")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, served):
    context = browser.new_context(accept_downloads=True, locale="en-GB")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield tab
    context.close()
    assert errors == [], errors


def sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/token?next=/subscriptions")
    page.fill("input[name=token]", token)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{base}/subscriptions")


def test_search_in_chinese_and_open_the_incident(page, served) -> None:
    base, _ = served
    page.goto(base + "/")
    page.fill("input[name=q]", "零一萬物 套殼")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector(".hit")
    assert page.locator(".hit mark").count() >= 1
    assert "Yi-34B" in page.locator(".hit-list").inner_text()
    page.locator(".incident-link").first.click()
    page.wait_for_selector("h1")
    assert "Yi-34B" in page.locator("h1").inner_text()
    assert page.locator(".coverage-list > li").count() == 3


def test_timeline_zoom_and_click_through(page, served) -> None:
    base, _ = served
    page.goto(base + "/timeline")
    assert page.locator("svg .bar-link").count() == 3
    page.click("svg a.tick-link >> text=2023")
    page.wait_for_url("**zoom=2023")
    page.click("svg a.tick-link >> text=Nov")
    page.wait_for_url("**zoom=2023-11")
    assert page.locator("svg .bar-link").count() == 1
    page.locator("svg .bar-link rect").first.click()
    page.wait_for_url("**/incidents/**")
    assert page.locator(".stance-allegation").count() >= 1
    assert page.locator(".stance-denial").count() >= 1


def test_language_switch(page, served) -> None:
    base, _ = served
    page.goto(base + "/timeline")
    page.click("text=中文")
    page.wait_for_selector("h1:has-text('事件时间线')")
    page.goto(base + "/")  # remembered by the cookie
    assert page.locator("nav.main-nav").inner_text().startswith("搜索")


def test_create_a_subscription_and_read_its_feed(page, served) -> None:
    base, token = served
    sign_in(page, base, token)
    form = page.locator("#new-subscription")
    form.locator("input[name=name]").fill("字节跳动 distillation")
    form.locator("input[name=entities]").fill("字节跳动")
    form.locator("input[value=api_distilled]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".notice.created")
    feed_url = page.locator(".notice.created code.copyable").inner_text()
    assert "/feeds/" in feed_url and "token=" in feed_url
    assert page.locator(".subscription h3", has_text="字节跳动 distillation").count() == 1
    response = page.request.get(feed_url.replace("http://127.0.0.1:8000", base))
    assert response.status == 200 and b"<feed" in response.body()


def test_download_a_digest(page, served) -> None:
    base, _ = served
    page.goto(base + "/digests")
    page.fill("input[name=month]", "2023-11")
    page.select_option("select[name=format]", "md")
    page.select_option("select[name=lang]", "zh")
    with page.expect_download() as download_info:
        page.click("#digest-form button[type=submit]")
    download = download_info.value
    assert download.suggested_filename == "shellwatch-digest-2023-11-zh.md"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert "2023" in text and "Yi-34B" in text


def test_xss_payloads_in_a_stored_article_do_not_run(page, served) -> None:
    base, _ = served
    evil_id = page.request.get(base + "/api/search?q=Evil").json()["hits"][0]["id"]
    incident_id = page.request.get(f"{base}/api/articles/{evil_id}").json()["incident_ids"][0]
    for path in (f"/articles/{evil_id}", f"/incidents/{incident_id}", "/?q=Evil", "/timeline", "/entities"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__xss") == "undefined", path
    page.goto(f"{base}/articles/{evil_id}")
    assert "<script>window.__xss = 1</script>" in page.locator("h1").inner_text()  # shown as text
    page.locator("details.copies summary").click()
    page.locator("details.copies a").first.click()  # was a javascript: URL, rendered as "#"
    assert page.evaluate("typeof window.__xss") == "undefined"
