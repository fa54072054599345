"""The customer's own page in a real browser (issue 15, section 1): headless Chromium
driven by Selenium against a real server on a loopback port, a webhook worker and a
receiver on loopback, and the agent's sidebar open beside it.

The screenshots docs/screenshots/customer-light.png and customer-dark.png (360 px wide,
the page's whole height) are written here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser import WAIT, Server, chromium, csp_refusals, skip_without_chromium
from flask import Flask
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from standardwebhooks.webhooks import Webhook
from test_webhooks_receiver import Receiver

from assistant import create_app, services
from assistant.customer_page import links
from assistant.customer_page.views import link_key
from assistant.policy import load_policy
from assistant.sidebar import launch
from assistant.store.sqlite.db import connect
from assistant.webhooks import subscriptions
from assistant.webhooks.worker import Worker
from nlp import Extractor

HOST_SECRET = "browser-test-helpdesk-secret-" + "c" * 24
SCREENSHOTS = Path(__file__).parents[1] / "docs" / "screenshots"
SEEDED_AT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)  # fixed dates: stable screenshots
LINK_UNTIL = datetime(2026, 1, 22, 9, 30, tzinfo=UTC) + timedelta(days=365 * 10)
CARD = "4111 1111 1111 1111"
REFUSED = (
    "This link does not work\nIt may have expired or been replaced by a newer one.\n"
    "Ask us for a new link the next time you contact us."
)

skip_without_chromium()


@pytest.fixture(scope="module")
def app(extractor: Extractor, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    folder = tmp_path_factory.mktemp("customer-page-browser")
    app = create_app(
        test_config={
            "TESTING": True,
            "TRUSTLINE_DATABASE": str(folder / "trustline.db"),
            "TRUSTLINE_SECRET_KEY": "browser-test-session-key-" + "c" * 24,
            "TRUSTLINE_LAUNCH_SECRETS": f"helpdesk={HOST_SECRET}",
            "TRUSTLINE_SSE_HEARTBEAT_SECONDS": 1,
            "TRUSTLINE_SSE_MAX_SECONDS": 60,
            "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "TRUSTLINE_WEBHOOK_POLL_MS": 10,
        }
    )
    app.extensions["trustline.extractor"] = extractor
    return app


@pytest.fixture(scope="module")
def server(app: Flask) -> Iterator[Server]:
    running = Server(app)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def webhook_secret(app: Flask, receiver: Receiver) -> Iterator[str]:
    """A CRM subscribed to consent changes, and the delivery worker `trustline serve`
    runs, delivering to it while the tests run."""
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        _, secret = subscriptions.create(db, receiver.url, ["consent.changed"], actor="test")
    finally:
        db.conn.close()
    stop = threading.Event()
    worker = threading.Thread(target=Worker(app).run, args=(stop,), daemon=True)
    worker.start()
    yield secret
    stop.set()
    worker.join(timeout=WAIT)


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


@pytest.fixture(autouse=True)
def no_csp_violations(driver: WebDriver) -> Iterator[None]:
    """Whatever a test does, no page needs what its CSP forbids."""
    driver.get_log("browser")  # start clean
    yield
    assert csp_refusals(driver) == []


# -- helpers ------------------------------------------------------------------------------


def make_customer(
    app: Flask,
    customer_id: str,
    contact: str,
    *,
    grants: tuple[tuple[str, str | None], ...] = (),
    notes: tuple[str, ...] = (),
    now: datetime | None = None,
) -> None:
    """A customer of the helpdesk host (identity source "chatwoot")."""
    db = connect(app.config["TRUSTLINE_DATABASE"])
    policy = load_policy()
    try:
        services.upsert_customer(
            db,
            customer_id,
            actor="test",
            name="Ada Lovelace",
            identities=[services.Identity("chatwoot", contact)],
            now=now,
        )
        for purpose, channel in grants:
            services.record_consent(
                db,
                policy,
                customer_id,
                purpose=purpose,
                channel=channel,
                status="granted",
                actor="agent-7",
                source="agent",
                method="verbal",
                evidence={"agent": "agent-7"},
                now=now,
            )
        extractor = app.extensions["trustline.extractor"]
        for note in notes:
            services.ingest_note(db, extractor, policy, customer_id, note, agent="agent-7", now=now)
    finally:
        db.conn.close()


def link(app: Flask, customer_id: str, *, now: datetime | None = None, until: datetime) -> str:
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        with app.app_context():
            key = link_key()
        start = now or services.utcnow()
        token, _ = links.create(db, key, customer_id, ttl=until - start, actor="test", now=start)
    finally:
        db.conn.close()
    return token


def wait_for(
    driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = WAIT
) -> Any:
    waiting = WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
    )
    return waiting.until(condition)


def text_of(driver: WebDriver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def open_sidebar(driver: WebDriver, server: Server, contact: str) -> None:
    token = launch.sign(
        HOST_SECRET,
        issuer="helpdesk",
        audience="trustline-sidebar",
        agent_id="agent-7",
        name="Grace Agent",
        role="agent",
        source="chatwoot",
        customer=contact,
    )
    driver.get(server.url("/sidebar/launch?token=" + token))
    wait_for(driver, lambda d: d.find_elements(By.ID, "note-text"))
    wait_for(driver, lambda d: d.execute_script("return !!(window.htmx && htmx.version)"))


def save_screenshot(driver: WebDriver, path: Path) -> None:
    """Write only when the pixels changed, so a test run leaves the work tree alone."""
    png = driver.get_screenshot_as_png()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != png:
        path.write_bytes(png)


# -- tests ------------------------------------------------------------------------------


def test_withdrawing_on_the_page_updates_an_open_sidebar_and_fires_the_webhook(
    app: Flask, driver: WebDriver, server: Server, receiver: Receiver, webhook_secret: str
) -> None:
    make_customer(
        app,
        "c-live",
        "401",
        grants=(("personalization", None),),
        notes=("Prefers email. Interested in chess sets.",),
    )
    open_sidebar(driver, server, contact="401")
    sidebar = driver.current_window_handle
    purpose = '#profile [data-purpose="personalization"]'
    assert "granted" in text_of(driver, purpose).lower()
    assert "chess set" in text_of(driver, "#profile").lower()
    wait_for(driver, lambda d: text_of(d, "#live") == "Live")  # the event stream is open
    driver.execute_script("window.__notReloaded = true")

    driver.switch_to.new_window("window")
    driver.get(
        server.url("/my/" + link(app, "c-live", until=services.utcnow() + timedelta(days=7)))
    )
    assert driver.current_url == server.url("/my")  # the token left the address bar
    assert driver.execute_script("return document.scripts.length") == 0  # plain forms
    card = driver.find_element(By.CSS_SELECTOR, 'article.purpose[data-purpose="personalization"]')
    assert card.get_attribute("data-status") == "granted"
    assert "chess set" in driver.find_element(By.ID, "facts").text
    card.find_element(By.CSS_SELECTOR, 'button[data-status="withdrawn"]').click()
    wait_for(driver, lambda d: "Your choice is saved" in text_of(d, "main"))
    card = driver.find_element(By.CSS_SELECTOR, 'article.purpose[data-purpose="personalization"]')
    assert card.get_attribute("data-status") == "withdrawn"
    assert "chess set" not in driver.find_element(By.ID, "facts").text

    # The open sidebar shows it without a reload, from its event stream.
    driver.switch_to.window(sidebar)
    wait_for(driver, lambda d: "withdrawn" in text_of(d, purpose).lower())
    wait_for(driver, lambda d: "chess set" not in text_of(d, "#profile").lower())
    assert driver.execute_script("return window.__notReloaded") is True

    # The CRM got it as a signed webhook, with the page's words as evidence.
    def withdrawal() -> dict[str, Any] | None:
        for msg in list(receiver.processed.values()):
            consent = msg["data"]["consent"]
            if msg["data"]["customer_id"] == "c-live" and consent["status"] == "withdrawn":
                return msg
        return None

    wait_for(driver, lambda _d: withdrawal() is not None)
    delivered = [r for r in receiver.requests if b'"c-live"' in r.body and b"withdrawn" in r.body]
    payload = Webhook(webhook_secret).verify(delivered[0].body, delivered[0].headers)
    consent = payload["data"]["consent"]
    assert (consent["purpose"], consent["source"], consent["method"]) == (
        "personalization",
        "customer",
        "self_service",
    )
    assert consent["evidence"]["shown"] == "Suggestions that suit you: No, stop this"
    driver.switch_to.window(driver.window_handles[-1])
    driver.close()
    driver.switch_to.window(sidebar)


@pytest.mark.parametrize("how", ["forged", "expired", "revoked"])
def test_a_bad_link_reveals_nothing(
    app: Flask, driver: WebDriver, server: Server, how: str
) -> None:
    customer_id = f"c-bad-{how}"
    make_customer(app, customer_id, f"5{len(how)}{how[0]}", notes=("Prefers email.",))
    if how == "expired":
        start = services.utcnow() - timedelta(days=8)
        token = link(app, customer_id, now=start, until=start + timedelta(days=7))
    else:
        token = link(app, customer_id, until=services.utcnow() + timedelta(days=7))
    if how == "forged":
        token = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    if how == "revoked":
        db = connect(app.config["TRUSTLINE_DATABASE"])
        try:
            links.revoke(db, customer_id, actor="test")
        finally:
            db.conn.close()
    driver.delete_all_cookies()
    driver.get(server.url(f"/my/{token}"))
    assert driver.title == "This link does not work"
    # The same words whatever is wrong with the link, naming no one and no reason.
    assert driver.find_element(By.TAG_NAME, "body").text == REFUSED
    for revealing in ("Ada", "Lovelace", customer_id, "mail", "revoked", "forged"):
        assert revealing not in driver.page_source
    assert driver.get_cookie("trustline_customer") is None
    driver.get(server.url("/my"))  # nor does the page open without a link
    assert driver.title == "This link does not work"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_at_phone_width(
    app: Flask, driver: WebDriver, server: Server, theme: str
) -> None:
    customer_id = "c-shot"
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        exists = db.execute("SELECT 1 FROM customers WHERE id = ?", [customer_id]).fetchone()
    finally:
        db.conn.close()
    if not exists:
        make_customer(
            app,
            customer_id,
            "601",
            grants=(("marketing", "email"), ("personalization", None)),
            notes=(
                f"Parcel arrived damaged again, very unhappy. Card {CARD} was charged twice.",
                "Prefers email, no calls please. Interested in trail running shoes.",
            ),
            now=SEEDED_AT,
        )
    token = link(app, customer_id, now=SEEDED_AT, until=LINK_UNTIL)
    width = 360
    metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    media = {"features": [{"name": "prefers-color-scheme", "value": theme}]}
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", media)
    try:
        driver.get(server.url(f"/my/{token}"))
        assert driver.current_url == server.url("/my")
        page = driver.find_element(By.TAG_NAME, "main").text
        assert "A complaint about a delivery" in page and CARD not in driver.page_source
        assert "[PAYMENT_CARD]" in page
        # phone-sized: nothing wider than the screen
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        background = driver.execute_script(
            "return getComputedStyle(document.documentElement).backgroundColor"
        )
        assert background == ("rgb(255, 255, 255)" if theme == "light" else "rgb(13, 17, 23)")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        metrics["height"] = int(height)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        save_screenshot(driver, SCREENSHOTS / f"customer-{theme}.png")
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
