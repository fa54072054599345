"""The agent sidebar in a real browser (issue 4): headless Chromium driven by Selenium
against a real server on a loopback port, with its own database.

One server and one browser for the module (Chromium takes seconds to start); each test
works on its own customer. The screenshots in docs/screenshots/ are written here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser import WAIT, Server, chromium, csp_refusals, skip_without_chromium
from flask import Flask
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from assistant import create_app, services
from assistant.policy import load_policy
from assistant.sidebar import launch
from assistant.sidebar.config import DEMO_SOURCE
from assistant.sidebar.demo import seed
from assistant.store.sqlite.db import connect
from nlp import Extractor
from tests.conftest import api_key_hash

HOST_SECRET = "browser-test-helpdesk-secret-" + "b" * 24
SCREENSHOTS = Path(__file__).parents[1] / "docs" / "screenshots"
SEEDED_AT = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)  # fixed dates: stable screenshots
CARD = "4111 1111 1111 1111"

skip_without_chromium()


@pytest.fixture(scope="module")
def app(extractor: Extractor, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    folder = tmp_path_factory.mktemp("sidebar-browser")
    app = create_app(
        test_config={
            "TESTING": True,
            "TRUSTLINE_DATABASE": str(folder / "trustline.db"),
            "TRUSTLINE_SECRET_KEY": "browser-test-session-key-" + "s" * 24,
            "TRUSTLINE_DEMO": True,
            "TRUSTLINE_LAUNCH_SECRETS": f"helpdesk={HOST_SECRET}",
            # The "other host" page runs on localhost: it may frame the sidebar, but its
            # messages are not trusted (it is not in TRUSTLINE_HOST_ORIGINS).
            "TRUSTLINE_FRAME_ANCESTORS": "'self' http://localhost:*",
            "TRUSTLINE_SSE_HEARTBEAT_SECONDS": 1,
            "TRUSTLINE_SSE_MAX_SECONDS": 60,
            "TRUSTLINE_API_KEY_HASHES": api_key_hash(),  # the consent views read the API
        }
    )
    app.extensions["trustline.extractor"] = extractor
    db = connect(app.config["TRUSTLINE_DATABASE"])
    try:
        seed(db, extractor, load_policy(), now=SEEDED_AT)
    finally:
        db.conn.close()
    return app


@pytest.fixture(scope="module")
def server(app: Flask) -> Iterator[Server]:
    running = Server(app)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def other_host(server: Server) -> Iterator[Server]:
    """A host on another origin (http://localhost:PORT) that frames the sidebar."""

    def page(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        src = server.url("/sidebar/launch?token=" + environ["QUERY_STRING"].split("=", 1)[1])
        body = f'<!doctype html><title>Other host</title><iframe name="sidebar" src="{src}"'
        body += ' width="380" height="700"></iframe>'
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode("utf-8")]

    running = Server(page)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


@pytest.fixture(autouse=True)
def no_csp_violations(driver: WebDriver) -> Iterator[None]:
    """Whatever a test does, the page never needs what the CSP forbids."""
    driver.get_log("browser")  # start clean
    yield
    assert csp_refusals(driver) == []


# -- helpers ------------------------------------------------------------------------------


def make_customer(
    app: Flask, customer_id: str, name: str, contact: str, *grants: str, notes: tuple[str, ...] = ()
) -> None:
    """A customer of the helpdesk host (identity source "chatwoot", like the demo)."""
    db = connect(app.config["TRUSTLINE_DATABASE"])
    policy = load_policy()
    try:
        services.upsert_customer(
            db,
            customer_id,
            actor="test",
            name=name,
            identities=[services.Identity("chatwoot", contact)],
        )
        for purpose in grants:
            services.record_consent(
                db,
                policy,
                customer_id,
                purpose=purpose,
                status="granted",
                actor="test",
                source="agent",
                method="verbal",
                evidence={"agent": "test"},
            )
        for note in notes:
            extractor = app.extensions["trustline.extractor"]
            services.ingest_note(db, extractor, policy, customer_id, note, agent="agent-7")
    finally:
        db.conn.close()


def open_sidebar(
    driver: WebDriver,
    server: Server,
    contact: str,
    role: str = "agent",
    theme: str | None = None,
    source: str = "chatwoot",
) -> None:
    token = launch.sign(
        HOST_SECRET,
        issuer="helpdesk",
        audience="trustline-sidebar",
        agent_id="agent-7",
        name="Grace Agent",
        role=role,
        source=source,
        customer=contact,
        theme=theme,
    )
    driver.get(server.url("/sidebar/launch?token=" + token))
    wait_for(driver, lambda d: d.find_elements(By.ID, "note-text"))
    wait_for_htmx(driver)


def wait_for(
    driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = WAIT
) -> Any:
    # htmx swaps elements out from under a lookup: look again rather than fail.
    waiting = WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
    )
    return waiting.until(condition)


def wait_for_htmx(driver: WebDriver) -> None:
    wait_for(driver, lambda d: d.execute_script("return !!(window.htmx && htmx.version)"))


def text_of(driver: WebDriver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def type_note(driver: WebDriver, text: str) -> list[WebElement]:
    """Type into the composer and wait for the debounced preview's chips."""
    box = driver.find_element(By.ID, "note-text")
    box.clear()
    box.send_keys(text)
    return wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#preview .chip"))


def chips(driver: WebDriver) -> dict[str, str]:
    """{chip label: outcome} as shown (read in one go: htmx may swap them meanwhile)."""
    found: list[list[str]] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#preview .chip')).map(c => "
        "[c.querySelector('.chip-label').textContent, c.dataset.outcome])"
    )
    return {label: outcome for label, outcome in found}


def chip(driver: WebDriver, label: str) -> WebElement:
    for found in driver.find_elements(By.CSS_SELECTOR, "#preview .chip"):
        if found.find_element(By.CLASS_NAME, "chip-label").text == label:
            return found
    raise AssertionError(f"no chip {label!r} in {chips(driver)}")


def consent_status(driver: WebDriver, purpose: str) -> str:
    return text_of(driver, f'#profile li[data-purpose="{purpose}"] .pill')


def save_screenshot(driver: WebDriver, path: Path) -> None:
    """Write only when the pixels changed, so a test run leaves the work tree alone."""
    png = driver.get_screenshot_as_png()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != png:
        path.write_bytes(png)


# -- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_follow_the_hosts_theme(driver: WebDriver, server: Server, theme: str) -> None:
    width = 360  # a narrow helpdesk panel (issue 15: screenshots at 360 px)
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        # Ada, seeded by the demo under its own identity source
        open_sidebar(driver, server, contact="101", theme=theme, source=DEMO_SOURCE)
        type_note(driver, f"Replacement sent. Card {CARD}, wants eco delivery next time.")
        wait_for(driver, lambda d: text_of(d, "#live") == "Live")
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        metrics["height"] = int(height)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        background = driver.execute_script(
            "return getComputedStyle(document.documentElement).backgroundColor"
        )
        assert background == ("rgb(255, 255, 255)" if theme == "light" else "rgb(13, 17, 23)")
        save_screenshot(driver, SCREENSHOTS / f"sidebar-{theme}.png")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_typing_a_note_shows_chips_and_the_masked_text(
    app: Flask, driver: WebDriver, server: Server
) -> None:
    make_customer(app, "demo-t-chips", "Chip Tester", "301")
    open_sidebar(driver, server, contact="301")
    type_note(driver, f"Prefers sms. Interested in chess sets. Card {CARD}. She is diabetic.")
    wait_for(driver, lambda d: len(chips(d)) == 4)
    assert chips(driver) == {
        "Contact: text messages": "stored",
        "Interest: chess sets": "needs_consent",
        "Card number": "masked",
        "Health": "blocked",
    }
    assert "needs consent · personalization" in chip(driver, "Interest: chess sets").text
    masked = driver.find_element(By.ID, "masked-preview").text
    assert masked == "Prefers sms. Interested in chess sets. Card [PAYMENT_CARD]. She is [HEALTH]."
    card = chip(driver, "Card number").find_element(By.CSS_SELECTOR, "input[type=checkbox]")
    assert card.is_selected() and not card.is_enabled()  # masking cannot be unticked


def test_untick_a_chip_and_save(app: Flask, driver: WebDriver, server: Server) -> None:
    make_customer(app, "demo-t-save", "Save Tester", "302")
    open_sidebar(driver, server, contact="302")
    type_note(driver, "Prefers sms. Parcel arrived late, very unhappy.")
    wait_for(driver, lambda d: len(chips(d)) == 2)
    chip(driver, "Contact: text messages").find_element(By.TAG_NAME, "label").click()
    wait_for(driver, lambda d: "unticked" in chip(d, "Contact: text messages").text)
    driver.find_element(By.CSS_SELECTOR, "#composer button.primary").click()
    wait_for(driver, lambda d: "Saved: 1 stored" in text_of(d, "#composer .saved"))
    profile = driver.find_element(By.ID, "profile").text
    assert "Complaint: delivery (medium)" in profile
    assert "Contact: text messages" not in profile
    assert driver.find_element(By.ID, "note-text").get_attribute("value") == ""


def test_a_second_page_updates_live_without_losing_the_draft(
    app: Flask, driver: WebDriver, server: Server
) -> None:
    make_customer(app, "demo-t-live", "Live Tester", "303", notes=("Prefers email.",))
    open_sidebar(driver, server, contact="303")
    first = driver.current_window_handle
    driver.switch_to.new_window("window")
    driver.get(server.url("/sidebar?customer=demo-t-live"))  # same session, same customer
    wait_for(driver, lambda d: "Live Tester" in text_of(d, "#customer h1"))
    wait_for_htmx(driver)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    second = driver.current_window_handle
    draft = "Half-written note, do not lose me"
    driver.find_element(By.ID, "note-text").send_keys(draft)
    driver.execute_script("window.__notReloaded = true")
    wait_for(driver, lambda d: text_of(d, "#live") == "Live")  # the event stream is open

    driver.switch_to.window(first)
    type_note(driver, "Now prefers post. Billing was wrong twice, very annoyed.")
    driver.find_element(By.CSS_SELECTOR, "#composer button.primary").click()
    wait_for(driver, lambda d: "Saved" in text_of(d, "#composer .saved"))
    saved_at = time.monotonic()

    driver.switch_to.window(second)
    wait_for(driver, lambda d: "Contact: post" in text_of(d, "#profile"), timeout=5)
    latency = time.monotonic() - saved_at
    profile = driver.find_element(By.ID, "profile").text
    assert "Complaint: billing" in profile and "Contact: e-mail" not in profile
    assert driver.execute_script("return window.__notReloaded") is True
    assert driver.find_element(By.ID, "note-text").get_attribute("value") == draft
    assert latency < 3, f"the update took {latency:.1f} s"

    # The next update sends the facts this stream sent already as empty stand-ins: the
    # page keeps its own "why" popover and correction form of each (hx-preserve).
    driver.switch_to.window(first)
    type_note(driver, "Now prefers phone calls.")
    driver.find_element(By.CSS_SELECTOR, "#composer button.primary").click()
    driver.switch_to.window(second)
    wait_for(driver, lambda d: "Contact: post" not in text_of(d, "#profile"), timeout=5)
    billing = driver.find_element(By.XPATH, "//li[contains(., 'Complaint: billing')]")
    why = billing.find_element(By.CSS_SELECTOR, "[popovertarget^='why-']")
    popover = driver.find_element(By.ID, why.get_attribute("popovertarget") or "")
    assert "Billing was wrong twice" in (popover.get_attribute("textContent") or "")
    fix = billing.find_element(By.CSS_SELECTOR, "details.fix")
    assert fix.find_elements(By.CSS_SELECTOR, "input[name='reason']")
    assert driver.find_element(By.ID, "note-text").get_attribute("value") == draft
    driver.close()
    driver.switch_to.window(first)


def test_chatwoot_app_context_switches_the_customer_and_other_origins_are_ignored(
    driver: WebDriver, server: Server, other_host: Server
) -> None:
    driver.get(server.url("/"))  # the demo desktop frames the sidebar
    driver.switch_to.frame("trustline")
    wait_for(driver, lambda d: "Ada Lovelace" in text_of(d, "#customer h1"))
    wait_for_htmx(driver)
    driver.switch_to.default_content()

    # Switching conversation in the host posts a Chatwoot appContext to the frame.
    driver.find_element(By.CSS_SELECTOR, '.conversation-link[data-customer="demo-grace"]').click()
    driver.switch_to.frame("trustline")
    wait_for(driver, lambda d: "Grace Hopper" in text_of(d, "#customer h1"))
    driver.switch_to.default_content()

    # The same message from a page on another origin is ignored.
    token = launch.sign(
        HOST_SECRET,
        issuer="helpdesk",
        audience="trustline-sidebar",
        agent_id="agent-7",
        role="agent",
        source=DEMO_SOURCE,  # Ada, seeded by the demo
        customer="101",
    )
    driver.get(other_host.url("/?token=" + token, host="localhost"))
    driver.switch_to.frame("sidebar")
    # The session cookie works in this third-party frame (Partitioned, SameSite=None).
    wait_for(driver, lambda d: "Ada Lovelace" in text_of(d, "#customer h1"))
    wait_for_htmx(driver)
    driver.switch_to.default_content()
    driver.execute_script(
        "window.frames.sidebar.postMessage(JSON.stringify("
        "{event: 'appContext', data: {contact: {id: 102}}}), '*')"
    )
    time.sleep(1.0)  # a switch takes one request; give it ample time to (not) happen
    driver.switch_to.frame("sidebar")
    assert "Ada Lovelace" in text_of(driver, "#customer h1")
    driver.switch_to.default_content()


def test_markup_in_a_note_renders_inert(app: Flask, driver: WebDriver, server: Server) -> None:
    make_customer(app, "demo-t-xss", "Inert Tester", "304", "personalization")
    open_sidebar(driver, server, contact="304")
    note = (
        "Prefers sms. <script>window.__xss = 1; alert(1)</script> "
        '<img src=x onerror="window.__xss = 2; alert(2)"> likes chess sets'
    )
    type_note(driver, note)
    wait_for(driver, lambda d: len(chips(d)) == 2)
    assert "<script>window.__xss = 1" in driver.find_element(By.ID, "masked-preview").text
    driver.find_element(By.CSS_SELECTOR, "#composer button.primary").click()
    wait_for(driver, lambda d: "Interest: chess sets" in text_of(d, "#profile"))
    why = driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Why: Interest: chess sets"]')
    why.send_keys(Keys.ENTER)  # keyboard: Enter opens the popover, Escape closes it
    popover = driver.find_element(By.ID, why.get_attribute("popovertarget") or "")
    wait_for(driver, lambda d: popover.is_displayed())
    assert '"> likes chess sets' in popover.text
    assert "Grace Agent" in popover.text and "agent-7" not in popover.text  # names, not ids
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    wait_for(driver, lambda d: not popover.is_displayed())
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert driver.execute_script("return window.__xss") is None
    created = driver.execute_script(
        "return document.querySelectorAll('#main img, #main script, #main [onerror]').length"
    )
    assert created == 0


def test_consent_capture_and_withdrawal(app: Flask, driver: WebDriver, server: Server) -> None:
    make_customer(app, "demo-t-consent", "Consent Tester", "305")
    open_sidebar(driver, server, contact="305")
    type_note(driver, "Interested in chess sets.")
    asked = chip(driver, "Interest: chess sets")
    wording, version = load_policy().wording("personalization")
    assert wording in asked.text and version in asked.text
    assert consent_status(driver, "personalization") == "Never asked"

    asked.find_element(By.CSS_SELECTOR, "button.primary").click()  # "Customer agrees"
    wait_for(driver, lambda d: chips(d).get("Interest: chess sets") == "stored")
    wait_for(driver, lambda d: consent_status(d, "personalization") == "Granted")
    assert driver.find_element(By.ID, "note-text").get_attribute("value") == (
        "Interested in chess sets."
    )

    row = driver.find_element(By.CSS_SELECTOR, '#profile li[data-purpose="personalization"]')
    row.find_element(By.XPATH, ".//button[normalize-space()='Withdraw']").click()
    wait_for(driver, lambda d: consent_status(d, "personalization") == "Withdrawn")

    # Asking from the profile: the script in a popover, one click to record.
    ask = driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Ask for consent: Analytics"]')
    ask.click()
    popover = driver.find_element(By.CSS_SELECTOR, '[data-ask="analytics"]')
    wait_for(driver, lambda d: popover.is_displayed())
    assert load_policy().wording("analytics")[0] in popover.text
    popover.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_for(driver, lambda d: consent_status(d, "analytics") == "Granted")


def on_screen(driver: WebDriver, css: str) -> bool:
    """The element is inside the viewport as it is (nothing scrolled)."""
    inside: bool = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0",
        css,
    )
    return inside


def test_the_composer_and_the_consent_to_confirm_fit_a_380_by_700_panel(
    app: Flask, driver: WebDriver, server: Server
) -> None:
    """Issue 15: the agent reaches "New note" without scrolling past the profile, and the
    consent a saved note asks to confirm is on screen right after saving."""
    make_customer(
        app,
        "demo-t-fold",
        "Fold Tester",
        "306",
        "personalization",
        notes=("Prefers email. Interested in hiking boots, size 6.", "Parcel arrived late."),
    )
    metrics = {"width": 380, "height": 700, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        open_sidebar(driver, server, contact="306")
        assert on_screen(driver, "#note-text") and on_screen(driver, "#save-note")
        type_note(driver, "Happy for us to text her about offers.")
        driver.find_element(By.ID, "save-note").click()
        wait_for(driver, lambda d: "consent to confirm" in text_of(d, "#composer .saved"))
        confirm = "#profile .proposal button.primary"
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, confirm))
        assert driver.execute_script("return window.scrollY") == 0
        assert on_screen(driver, confirm)
        driver.find_element(By.CSS_SELECTOR, confirm).click()
        done = "Recorded: Marketing by text messages granted"
        wait_for(driver, lambda d: done in text_of(d, "#profile .notice"))
        assert consent_status(driver, "marketing") == "Granted for text messages only"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_asking_for_one_channel_closes_the_popover_and_says_so(
    app: Flask, driver: WebDriver, server: Server
) -> None:
    """Issue 15: no "Every channel"; one channel at a time; the popover closes on a grant
    and the panel says what was recorded; a note's grant of that channel asks nothing."""
    make_customer(app, "demo-t-ask", "Ask Tester", "307")
    open_sidebar(driver, server, contact="307")
    driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Ask for consent: Marketing"]').click()
    popover = driver.find_element(By.CSS_SELECTOR, '[data-ask="marketing"]')
    wait_for(driver, lambda d: popover.is_displayed())
    assert "Every channel" not in popover.text
    popover.find_element(By.XPATH, ".//button[normalize-space()='E-mail']").click()
    done = "Recorded: Marketing by e-mail granted"
    wait_for(driver, lambda d: done in text_of(d, "#profile .notice"))
    assert consent_status(driver, "marketing") == "Granted for e-mail only"
    shown = [p for p in driver.find_elements(By.CSS_SELECTOR, "[data-ask]") if p.is_displayed()]
    assert shown == []
    type_note(driver, "OK to send offers by email")
    wait_for(driver, lambda d: "already granted" in text_of(d, "#preview .chip"))


def test_a_french_note_says_its_language_is_not_read(
    app: Flask, driver: WebDriver, server: Server
) -> None:
    make_customer(app, "demo-t-french", "French Tester", "308")
    open_sidebar(driver, server, contact="308")
    box = driver.find_element(By.ID, "note-text")
    box.send_keys("La cliente préfère être contactée par courriel, pas d'appels.")
    wait_for(driver, lambda d: "looks French" in text_of(d, "#preview"))
    assert "Nothing to store found yet" not in text_of(driver, "#preview")


def test_correct_edits_a_value_and_keeps_its_provenance(
    app: Flask, driver: WebDriver, server: Server
) -> None:
    make_customer(
        app, "demo-t-fix", "Fix Tester", "309", "personalization",
        notes=("Interested in Nike running shoes.",),
    )  # fmt: skip
    open_sidebar(driver, server, contact="309")
    assert "Interest: Nike running shoes" in text_of(driver, "#profile")  # as written
    item = driver.find_element(By.XPATH, "//li[contains(., 'Interest: Nike running shoes')]")
    item.find_element(By.CSS_SELECTOR, "details.fix summary").click()
    value = item.find_element(By.CSS_SELECTOR, "input[name='value']")
    assert value.get_attribute("value") == "Nike running shoes"
    value.clear()
    value.send_keys("Adidas trail shoes")
    item.find_element(By.XPATH, ".//button[normalize-space()='Save correction']").click()
    wait_for(driver, lambda d: "Interest: Adidas trail shoes" in text_of(d, "#profile"))
    assert "Interest: Nike running shoes" not in text_of(driver, "#profile")
    fixed = driver.find_element(By.XPATH, "//li[contains(., 'Interest: Adidas trail shoes')]")
    why = fixed.find_element(By.CSS_SELECTOR, "[popovertarget^='why-']")
    popover = driver.find_element(By.ID, why.get_attribute("popovertarget") or "")
    text = popover.get_attribute("textContent") or ""
    assert "Corrected by" in text and "Grace Agent" in text
