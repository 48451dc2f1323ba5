"""Helpers of the browser tests: Debian's Chromium driven headless by Playwright, shoppers
logged in by cookie, and short waits on what the page shows."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TIMEOUT_MS = 5_000  # every wait on the page: a few seconds, never a blind sleep
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@contextmanager
def chromium() -> Iterator[object]:
    """One headless Chromium, or a skip when this machine has none (CI installs it, and sets
    BROWSER_TESTS_REQUIRED so that a missing browser fails there instead)."""
    missing = pytest.fail if os.environ.get("BROWSER_TESTS_REQUIRED") else pytest.skip
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
            CHROMIUM):
        missing(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("browser tests need Playwright (pip install -r requirements-dev.txt)")
    # Playwright's sync API keeps an event loop running in this thread, and Django's ORM
    # refuses to run under one; the test's own ORM calls are plain synchronous code.
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if before is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = before


def session_cookie(user, base_url: str) -> dict:
    """The session cookie of `user`, logged in by Django's test client, for a browser."""
    client = Client()
    client.force_login(user)
    host = urlsplit(base_url).hostname
    return {"name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "domain": host, "path": "/", "httpOnly": True, "sameSite": "Lax"}


# The fixtures every browser test module uses (registered in conftest.py).


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def expect():
    """Playwright's expect, waiting TIMEOUT_MS at most."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    return expect


@pytest.fixture
def pages(browser, live_server):
    """Pages in fresh browser contexts against the live server (`options`: those of
    Playwright's new_context, e.g. a viewport), logged in as `user` if given. A script error
    on any page fails the test."""
    contexts, errors = [], []

    def make(user=None, **options):
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        if user is not None:
            context.add_cookies([session_cookie(user, live_server.url)])
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
