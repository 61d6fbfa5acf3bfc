"""Staff in a real browser: Debian's headless Chromium, driven by Playwright, against
the live server, with every request to another host refused (no network).

Staff log in, see the front page's figures and charts, follow a failed-run figure to
the filtered list and retry the runs there; the API docs render their operations from
the project's own static files. Screenshots of the front page, light and dark, are kept
in ``$ORDERFLOW_VAR_DIR/screenshots`` (copies in ``docs/screenshots``).
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from events.models import HandlerRun
from tests.factories import PASSWORD
from tests.testkit.admin import break_email, build_shop
from users.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
# Quiet and offline: without the background-networking flags Chromium keeps calling
# Google's hosts, which this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's synchronous API keeps an event loop in this thread; the test's own
    # database calls are still synchronous, which Django must be told is safe.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


class Offline:
    """A browser page that may reach the live server only; what it tried elsewhere is kept."""

    def __init__(self, browser, base_url: str, color_scheme: str = "light"):
        self.base_url = base_url
        self.refused: list[str] = []
        self.context = browser.new_context(color_scheme=color_scheme, viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.route("**/*", self._only_the_server)

    def _only_the_server(self, route):
        if route.request.url.startswith(self.base_url):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def open(self, path: str):
        self.page.goto(f"{self.base_url}{path}")
        return self.page

    def log_in(self, username: str, password: str):
        page = self.open(reverse("admin:login"))
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_selector(".of-dashboard")
        return page


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("boss", "boss@example.com", PASSWORD)


def test_staff_see_the_figures_and_charts_and_retry_failed_runs_from_their_figure(
    browser, live_server, staff, run_handlers, settings
):
    break_email(settings)  # emails cannot go out: those handlers' runs fail
    build_shop(run_handlers)
    failed = HandlerRun.objects.filter(status="failed", handler="notifications.order_confirmed")
    count = failed.count()
    assert count
    tab = Offline(browser, live_server.url)

    page = tab.log_in("boss", PASSWORD)

    assert page.locator(".of-alerts").inner_text().startswith(f"{HandlerRun.objects.filter(status='failed').count()}")
    assert page.locator(".of-dashboard h2").all_inner_texts()[:3] == ["Today", "Last 7 days", "Pipeline"]
    assert page.locator(".of-dashboard figure svg").count() == 3
    assert "orders placed" in page.locator(".of-dashboard").inner_text()
    _screenshot(page, "admin-front-page-light.png")

    page.click('a.of-failed[data-handler="notifications.order_confirmed"]')
    page.wait_for_selector("#result_list")
    assert "status__exact=failed" in page.url
    assert page.locator("#result_list tbody tr").count() == count
    page.check("#action-toggle")
    page.select_option("select[name=action]", "retry_failed_runs")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")

    assert f"Retried {count} failed run(s)" in page.locator(".messagelist").inner_text()
    assert not HandlerRun.objects.filter(status="failed", handler="notifications.order_confirmed").exists()
    assert tab.refused == []


def test_the_front_page_reads_in_the_dark_theme_too(browser, live_server, staff, run_handlers):
    build_shop(run_handlers)
    tab = Offline(browser, live_server.url, color_scheme="dark")

    page = tab.log_in("boss", PASSWORD)

    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    text = page.evaluate("getComputedStyle(document.querySelector('.of-dashboard')).color")
    assert _luminance(background) < 0.2 < _luminance(text)  # light text on a dark page
    _screenshot(page, "admin-front-page-dark.png")
    assert tab.refused == []


# ReDoc's sidebar shows Redocly's logo from their CDN, unconditionally in its bundle;
# refused, the image hides itself (its onError) and nothing else on the page needs it.
DECORATIONS = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}


@pytest.mark.parametrize(("path", "operation"), [("/api/docs/", ".opblock"), ("/api/redoc/", "[data-section-id]")])
def test_the_api_docs_list_the_operations_with_the_network_blocked(browser, live_server, path, operation):
    tab = Offline(browser, live_server.url)

    page = tab.open(path)
    page.wait_for_selector(operation, timeout=20_000)

    assert page.locator(operation).count() >= 10
    assert "Exchange credentials for an API token" in page.inner_text("body")
    assert [url for url in tab.refused if url not in DECORATIONS] == []


def _luminance(css_color: str) -> float:
    red, green, blue = (int(part) / 255 for part in css_color[css_color.index("(") + 1 : -1].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _screenshot(page, name: str) -> None:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)
    if target := os.environ.get("ORDERFLOW_SCREENSHOTS_TO"):  # refreshing docs/screenshots
        shutil.copy(folder / name, Path(target) / name)
