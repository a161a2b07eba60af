"""The source flow in a real headless Chromium with JavaScript off, against real gunicorn (P5).

A source uses Tor Browser at the "Safest" level, so every step here is a click or a
keystroke in a browser that runs no script; the submission is then read back the way
the ombuds would, by decrypting it with the air-gapped key.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from securedrop_lite.airgap.decrypt import decrypt_file

if TYPE_CHECKING:
    from tests.conftest import KeyPair, LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
JAVASCRIPT_OFF_PREFS = {
    "profile.managed_default_content_settings.javascript": 2,
    "webkit.webprefs.javascript_enabled": False,
}
PAGE_TIMEOUT_SECONDS = 60

# A page whose inline script rewrites the title and a paragraph, and whose <noscript>
# content becomes real elements only when scripting is off.
PROBE_PAGE = (
    "<!doctype html><title>untouched</title>"
    '<p id="probe">untouched</p>'
    '<noscript><p id="noscript-shown">scripting is off</p></noscript>'
    "<script>document.title = 'script ran';"
    "document.getElementById('probe').textContent = 'script ran';</script>"
)

MESSAGE = (
    "The second AD keeps cornering me in the trailer after wrap.\n"
    "It happened on the 3rd and the 9th; Zoë from catering saw it — I'm scared to lose the job."
)
SOURCE_PAGES = {"/", "/consent", "/generate", "/lookup", "/logout", "/login"}
UPLOAD_NAME = "evidence report.pdf"
UPLOAD_SIZE = 200 * 1024
WRONG_CODENAME = "nobody would ever choose these seven exact words"
LOGIN_FAILED = "Sorry, that codename was not recognized. Please check it and try again."


def require_installed(path: Path, package: str) -> None:
    """Fail, never skip: a browser test that silently does not run proves nothing."""
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: install Debian's chromium and chromium-driver "
            f"(apt-get install chromium chromium-driver); {package} provides it",
            pytrace=False,
        )


def chromium_options(profile_dir: Path, javascript: bool) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    if not javascript:
        options.add_experimental_option("prefs", JAVASCRIPT_OFF_PREFS)
    return options


BrowserFactory = Callable[..., WebDriver]


@pytest.fixture
def start_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrowserFactory]:
    """Start headless Chromium through the system chromedriver; quit every one at the end."""
    require_installed(CHROMIUM, "chromium")
    require_installed(CHROMEDRIVER, "chromium-driver")
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must never download anything
    started: list[WebDriver] = []

    def start(javascript: bool = False) -> WebDriver:
        name = f"chromium-{len(started)}"
        service = Service(
            executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / f"{name}-driver.log")
        )
        driver = webdriver.Chrome(
            service=service, options=chromium_options(tmp_path / name, javascript)
        )
        started.append(driver)
        driver.set_page_load_timeout(PAGE_TIMEOUT_SECONDS)
        return driver

    yield start
    for driver in started:
        driver.quit()


@pytest.fixture
def browser(start_browser: BrowserFactory) -> WebDriver:
    return start_browser(javascript=False)


def load_probe_page(driver: WebDriver) -> None:
    driver.get("data:text/html;charset=utf-8," + quote(PROBE_PAGE))


def probe_paragraph_text(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "probe").text


def noscript_content_is_rendered(driver: WebDriver) -> bool:
    try:
        driver.find_element(By.ID, "noscript-shown")
    except NoSuchElementException:
        return False
    return True


def test_the_browser_runs_no_page_javascript(browser: WebDriver) -> None:
    load_probe_page(browser)
    assert browser.title == "untouched"
    assert probe_paragraph_text(browser) == "untouched"
    assert noscript_content_is_rendered(browser)


def test_the_javascript_probe_notices_when_javascript_is_on(
    start_browser: BrowserFactory,
) -> None:
    """The control: the same probe page, in a browser with JavaScript on, does change."""
    driver = start_browser(javascript=True)
    load_probe_page(driver)
    assert driver.title == "script ran"
    assert probe_paragraph_text(driver) == "script ran"
    assert not noscript_content_is_rendered(driver)


def _is_gone(element: WebElement) -> bool:
    """Whether the page holding element was replaced by the next one.

    chromedriver says so with a stale-element error, or, when it asks in the middle of the
    navigation, with "Node with given id does not belong to the document".
    """
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


@dataclass
class Person:
    """Someone at the keyboard: opens pages, clicks, types; every page they see is checked."""

    driver: WebDriver
    base_url: str
    pages_seen: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        self._look_at_page()

    def click(self, by: str, value: str) -> None:
        """Click, then wait for the next page, as nothing on these pages works in place."""
        old_page = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(by, value).click()
        WebDriverWait(self.driver, PAGE_TIMEOUT_SECONDS).until(lambda _: _is_gone(old_page))
        self._look_at_page()

    def type_into(self, element_id: str, text: str) -> None:
        field_element = self.driver.find_element(By.ID, element_id)
        field_element.clear()
        field_element.send_keys(text)

    def choose_file(self, element_id: str, path: Path) -> None:
        self.driver.find_element(By.ID, element_id).send_keys(str(path))

    def read(self, element_id: str) -> str:
        return self.element(element_id).text

    def element(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def notices(self) -> list[str]:
        return [p.text for p in self.driver.find_elements(By.CSS_SELECTOR, "p.notice")]

    def errors(self) -> list[str]:
        return [p.text for p in self.driver.find_elements(By.CSS_SELECTOR, "p.error")]

    def heading(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "h1").text

    def path(self) -> str:
        return urlsplit(self.driver.current_url).path

    def page_text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def _look_at_page(self) -> None:
        source = self.driver.page_source
        self.pages_seen.append(self.driver.current_url)
        assert not re.search(r"<script", source, re.IGNORECASE), (
            f"{self.driver.current_url} serves a <script> element:\n{source}"
        )
        assert self.driver.find_elements(By.ID, "quick-exit"), (
            f"{self.driver.current_url} has no quick-exit link"
        )


def write_upload(directory: Path) -> tuple[Path, bytes]:
    content = secrets.token_bytes(UPLOAD_SIZE)
    path = directory / UPLOAD_NAME
    path.write_bytes(content)
    return path, content


def get_a_codename(person: Person) -> str:
    person.open("/")
    person.click(By.LINK_TEXT, "Get a codename")
    assert person.path() == "/consent"
    assert "does not give legal advice" in person.read("consent-summary")
    person.click(By.ID, "consent")
    assert person.path() == "/generate"
    codename = person.read("codename")
    assert len(codename.split()) >= 7, codename
    person.click(By.ID, "continue")
    assert person.path() == "/lookup"
    assert person.read("sent-count") == "You have not sent anything yet."
    return codename


def send_message_and_file(person: Person, upload: Path) -> None:
    person.type_into("msg", MESSAGE)
    person.choose_file("fh", upload)
    person.click(By.ID, "submit")
    assert person.path() == "/lookup"
    assert person.notices() == ["Thank you. The ombuds office received both."]
    assert person.read("sent-count").startswith("You have sent 2 items")


def log_out(person: Person) -> None:
    person.click(By.ID, "logout")
    assert person.heading() == "You are logged out"
    assert "New Identity" in person.page_text()
    assert_logged_out(person)


def assert_logged_out(person: Person) -> None:
    person.open("/lookup")
    assert person.path() == "/login", "the conversation is still reachable"


def log_in(person: Person, codename: str) -> None:
    person.open("/login")
    person.type_into("codename", codename)
    person.click(By.ID, "login")


def stored_item(data_dir: Path, suffix: str) -> Path:
    store = data_dir / "store"
    source_dirs = [d for d in store.iterdir() if re.fullmatch(r"[0-9a-f]{32}", d.name)]
    assert len(source_dirs) == 1, sorted(store.iterdir())
    items = sorted(source_dirs[0].glob(f"*-{suffix}.gpg"))
    assert len(items) == 1, items
    return items[0]


def as_a_browser_submits_it(text: str) -> str:
    """HTML form submission sends a textarea's line breaks as CRLF."""
    return text.replace("\n", "\r\n")


def test_source_flow_works_with_javascript_disabled(
    browser: WebDriver, live_server: LiveServer, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    load_probe_page(browser)
    assert probe_paragraph_text(browser) == "untouched", "JavaScript is on in this browser"
    person = Person(browser, live_server.url)
    upload, upload_bytes = write_upload(tmp_path)

    codename = get_a_codename(person)
    send_message_and_file(person, upload)
    log_out(person)

    log_in(person, WRONG_CODENAME)
    assert person.heading() == "Log in with your codename"
    assert person.errors() == [LOGIN_FAILED]
    assert_logged_out(person)

    log_in(person, codename)
    assert person.path() == "/lookup"
    assert person.read("sent-count").startswith("You have sent 2 items")
    assert {urlsplit(url).path for url in person.pages_seen} == SOURCE_PAGES

    out = tmp_path / "decrypted"
    message = decrypt_file(ombuds_key.airgap_home, stored_item(live_server.data_dir, "msg"), out)
    assert message.path.read_bytes().decode("utf-8") == as_a_browser_submits_it(MESSAGE)
    document = decrypt_file(ombuds_key.airgap_home, stored_item(live_server.data_dir, "doc"), out)
    assert document.original_name == UPLOAD_NAME
    assert document.path.name == UPLOAD_NAME
    assert document.path.read_bytes() == upload_bytes


LOG_ENTRY = "El jefe de producción me gritó delante de todo el equipo."
CONTACT = "Signal: nutria.tranquila.07"


def test_ombuds_tools_work_in_spanish_with_javascript_disabled(
    browser: WebDriver, live_server: LiveServer, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    load_probe_page(browser)
    assert probe_paragraph_text(browser) == "untouched", "JavaScript is on in this browser"
    person = Person(browser, live_server.url)
    person.open("/")
    person.click(By.CSS_SELECTOR, 'a[hreflang="es"]')
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    assert person.read("quick-exit") != "Leave this site"
    person.click(By.CSS_SELECTOR, 'main a[href="/generate"]')
    assert person.path() == "/consent"
    person.click(By.ID, "consent")
    person.click(By.ID, "continue")
    assert person.path() == "/lookup"

    person.click(By.ID, "incident-log")
    person.click(By.ID, "new-entry")
    person.type_into("when", "el martes")
    person.type_into("what", LOG_ENTRY)
    person.click(By.ID, "save-entry")
    assert person.path().startswith("/log/")
    assert LOG_ENTRY in person.read("latest")
    person.open("/lookup")
    person.click(By.ID, "request-conversation")
    person.element("channel-messaging").click()
    person.type_into("contact", CONTACT)
    person.click(By.ID, "send-request")
    assert person.path() == "/lookup"
    assert len(person.notices()) == 1
    (request,) = live_server.data_dir.glob("store/*/*-msg.gpg")
    out = tmp_path / "decrypted"
    assert CONTACT in decrypt_file(ombuds_key.airgap_home, request, out).path.read_text()

    person.click(By.ID, "withdraw")
    person.click(By.ID, "confirm-withdraw")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    assert not list(live_server.data_dir.glob("store/*/*.gpg"))
    assert_logged_out(person)


def test_the_quick_exit_link_leaves_and_the_session_is_gone(
    browser: WebDriver, live_server: LiveServer
) -> None:
    person = Person(browser, live_server.url)
    get_a_codename(person)
    exit_url = person.element("quick-exit").get_attribute("href")
    assert exit_url == live_server.url + "/exit"
    # Chromium's own error page (the test's exit address is a closed loopback port)
    # carries script, so this step is not checked as one of our pages.
    browser.find_element(By.ID, "quick-exit").click()
    WebDriverWait(browser, PAGE_TIMEOUT_SECONDS).until(
        lambda driver: not driver.current_url.startswith(live_server.url)
    )
    assert browser.current_url.startswith("http://127.0.0.1:9/")
    assert not browser.get_cookies()
    assert_logged_out(person)
