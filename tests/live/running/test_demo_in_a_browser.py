"""The live order demo page (/demo/) in a real browser: Debian's headless Chromium,
driven by Playwright, against the running system on ASGI (gunicorn + uvicorn workers,
relay, Celery worker), with every request to another host refused (no network).

A shopper signs in, places an order and sees it move pending → paid without a reload:
the page follows the order's Server-Sent Events stream (EventSource, opened with a
stream token)."""

import pytest

from tests.project.test_admin_in_a_browser import Offline, _screenshot, browser  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long e2e passphrase 42"  # tests.testkit.api.Api.sign_up's


def timeline(page) -> list[str]:
    return page.locator("#timeline tr").evaluate_all("rows => rows.map(r => r.dataset.type)")


def test_a_shopper_sees_the_order_move_from_pending_to_paid_live(browser, shopper_on_asgi):  # noqa: F811
    api = shopper_on_asgi
    stack = api.stack
    tab = Offline(browser, stack.base_url)
    page = tab.open("/demo/")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    page.fill("#sign-in input[name=username]", api.username)
    page.fill("#sign-in input[name=password]", PASSWORD)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#shop-section:not([hidden])")
    assert "MUG-01" in page.locator("#products").evaluate("s => [...s.options].map(o => o.value).join(' ')")

    stack.worker.stop()  # the payment waits: the page shows the order pending first
    page.select_option("#products", "MUG-01")
    page.select_option("#place select[name=payment_token]", "tok_ok")
    page.click("#place button[type=submit]")
    page.wait_for_selector('#timeline tr[data-type="order.placed"]')
    assert page.locator("#order-status").inner_text() == "pending"
    assert page.locator("#connection").inner_text() == "live"

    stack.restart("worker")
    page.wait_for_selector('#timeline tr[data-type="order.paid"]', timeout=60_000)

    assert page.locator("#order-status").inner_text() == "paid"
    _screenshot(page, "live-order-demo.png")
    assert timeline(page) == ["order.placed", "payment.captured", "order.paid"]
    order_id = int(page.locator("#order-id").inner_text().lstrip("#"))
    assert api.order(order_id)["status"] == "paid"
    assert page.evaluate("window.loadedOnce") is True
    assert tab.refused == []
    tab.context.close()


def test_a_newcomer_creates_an_account_on_the_page_and_follows_a_declined_order_to_cancelled(
    browser,  # noqa: F811
    shopper_on_asgi,
):
    stack = shopper_on_asgi.stack
    tab = Offline(browser, stack.base_url)
    page = tab.open("/demo/")

    page.click("details summary")
    page.fill("#register input[name=username]", "newcomer-live")
    page.fill("#register input[name=email]", "newcomer-live@example.test")
    page.fill("#register input[name=password]", PASSWORD)
    page.click("#register button[type=submit]")
    page.wait_for_selector("#shop-section:not([hidden])")
    page.select_option("#products", "TEE-01")
    page.select_option("#place select[name=payment_token]", "tok_declined")
    page.click("#place button[type=submit]")
    page.wait_for_selector('#timeline tr[data-type="order.cancelled"]', timeout=60_000)

    assert page.locator("#who-name").inner_text() == "newcomer-live"
    assert page.locator("#order-status").inner_text() == "cancelled"
    assert timeline(page) == ["order.placed", "payment.failed", "order.cancelled"]
    assert tab.refused == []
    tab.context.close()
