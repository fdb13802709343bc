"""Browser (end-to-end) test fixtures: headless Debian Chromium driven by Playwright's sync API.

Playwright's sync API keeps an asyncio event loop running in the test thread, so Django's async-safety
check would refuse the ORM calls the tests make for setup and assertions. The live server runs in its own
thread and is unaffected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: every wait (navigation, locator, expect) gives up after this many milliseconds
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (Playwright is stopped before the next module runs)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where stage screenshots go: $LOANOPS_E2E_SCREENSHOTS if set, else a pytest temp dir (never the repo)."""
    target = os.environ.get("LOANOPS_E2E_SCREENSHOTS")
    if target:
        path = Path(target)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("e2e-screenshots")


@pytest.fixture
def open_session(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """`open_session(kind, username, password)` → a page in a fresh browser context, logged in through the
    staff login form (`kind="staff"`, /accounts/login/) or the portal login form (`kind="customer"`,
    /portal/login/, username = phone number). Contexts are closed at the end of the test.
    """
    from playwright.sync_api import expect

    contexts: list[Any] = []

    def open_(kind: str, username: str, password: str) -> Any:
        context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        if kind == "customer":
            page.goto("/portal/login/")
            page.fill("input[name=phone]", username)
            page.fill("input[name=password]", password)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(f"{live_server.url}/portal/")
        else:
            page.goto("/accounts/login/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(f"{live_server.url}/backoffice/")
        return page

    yield open_
    for context in contexts:
        context.close()
