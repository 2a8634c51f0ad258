"""The teacher dashboard in Debian's headless Chromium, against a real server with the demo."""

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from tests.browser import CHROMEDRIVER, CHROMIUM
from tests.browser import FLAGS as BROWSER_FLAGS
from tests.serving import Server, free_port, serve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # the first test may install Chromium

FLAGS = [*BROWSER_FLAGS, "--window-size=1280,800"]
DEMO_STUDENTS = {"ada", "grace", "linus", "guido", "margaret", "alan"}
SKILLS = [skill.id for skill in DEFAULT_CURRICULUM.skills]
LEVELS = ("Beginner", "Learning", "Proficient", "Mastered")
SECRET = "dashboard-test-secret-of-at-least-32-bytes"
WAIT_S = 20
QUICK_EXIT = {"MASTERY_SHUTDOWN_DRAIN_SECONDS": "0"}  # no load balancer to drain here


def _apt_get(*args: str) -> int:
    """Run apt-get without questions; its exit status."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", *args]
    return subprocess.run(
        command, env=env, capture_output=True, timeout=270, check=False
    ).returncode


def _install_chromium() -> None:
    """Chromium and its driver from Debian's packages, installed on first use."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    install = ("install", "-y", "-q", "chromium", "chromium-driver")
    if _apt_get(*install) != 0:  # maybe stale package lists: refresh them once
        _apt_get("update", "-q")
        _apt_get(*install)
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("apt-get install -y chromium chromium-driver did not install the browser")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless Chromium driven by Debian's chromedriver (Selenium Manager is never asked)."""
    _install_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=ChromeService(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server as `make run` starts it: authentication off, the demo class loaded."""
    with serve(
        tmp_path_factory.mktemp("demo") / "demo.db", free_port(), MASTERY_DEMO="1", **QUICK_EXIT
    ) as s:
        yield s


def console_errors(driver: WebDriver, allowed: tuple[str, ...] = ()) -> list[str]:
    """Console errors since the last call (CSP violations and script errors land there)."""
    entries = driver.get_log("browser")
    errors = [str(e["message"]) for e in entries if e["level"] == "SEVERE"]
    return [m for m in errors if not any(a in m for a in allowed)]


def until(driver: WebDriver, found: Callable[[WebDriver], Any]) -> Any:
    """Wait for `found` to return something truthy, and return it."""
    return WebDriverWait(driver, WAIT_S).until(found)


def elements(driver: WebDriver, css: str) -> list[WebElement]:
    """Every element matching a CSS selector."""
    return list(driver.find_elements(By.CSS_SELECTOR, css))


def open_dashboard(driver: WebDriver, url: str, hash_: str = "") -> None:
    """A fresh load of the page (sessionStorage is per origin, so per server)."""
    driver.get("about:blank")
    console_errors(driver)
    driver.get(f"{url}/dashboard{hash_}")


def heatmap_rows(driver: WebDriver, count: int) -> list[WebElement]:
    """The heatmap's student rows, once there are `count` of them."""
    return list(
        until(
            driver,
            lambda d: (rows := elements(d, "#heatmap tbody tr")) and len(rows) == count and rows,
        )
    )


def test_pages_and_assets_carry_a_strict_csp(demo: Server) -> None:
    page = httpx.get(f"{demo.url}/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    for directive in ("script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert directive in csp
    assert "unsafe" not in csp and "default-src 'none'" in csp
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    script = httpx.get(f"{demo.url}/dashboard/static/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == csp
    assert (
        httpx.get(f"{demo.url}/dashboard/static/style.css")
        .headers["content-type"]
        .startswith("text/css")
    )
    missing = httpx.get(f"{demo.url}/dashboard/static/server.py")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert "/dashboard" not in httpx.get(f"{demo.url}/openapi.json").json()["paths"]
    api = httpx.get(f"{demo.url}/v1/students")
    assert api.headers["content-security-policy"].startswith("default-src 'none'; frame")


def test_heatmap_shows_every_demo_student_and_skill(browser: WebDriver, demo: Server) -> None:
    open_dashboard(browser, demo.url)
    rows = heatmap_rows(browser, len(DEMO_STUDENTS))
    assert {row.get_attribute("data-student") for row in rows} == DEMO_STUDENTS
    heads = elements(browser, "#heatmap thead th.skill-head")
    assert [th.get_attribute("data-skill") for th in heads] == SKILLS
    assert browser.find_element(By.ID, "class-select").get_attribute("value") == ""
    legend = browser.find_element(By.CSS_SELECTOR, ".legend").text
    assert all(level in legend for level in LEVELS)
    for row in rows:
        student = row.get_attribute("data-student")
        expected = httpx.get(f"{demo.url}/v1/students/{student}/mastery").json()["skills"]
        cells = row.find_elements(By.CSS_SELECTOR, "td.cell")
        assert len(cells) == len(SKILLS)
        for cell, skill in zip(cells, expected, strict=True):
            assert f"level-{skill['level'].lower()}" in (cell.get_attribute("class") or "")
            assert cell.text == skill["level"][0]
            title = cell.get_attribute("title") or ""
            assert f"{skill['mastery'] * 100:.1f} %" in title, title
            assert skill["skill_id"] in title and skill["level"] in title
    assert browser.find_element(By.ID, "who").text == "no token (authentication is off)"
    assert console_errors(browser) == []


def test_student_page_draws_history_and_recommendations(
    browser: WebDriver, demo: Server, tmp_path: Path
) -> None:
    open_dashboard(browser, demo.url)
    row = next(r for r in heatmap_rows(browser, 6) if r.get_attribute("data-student") == "ada")
    row.find_elements(By.CSS_SELECTOR, "td.cell")[2].click()  # the row, not its link
    paths = until(browser, lambda d: len(s := elements(d, "#history-chart path.series")) == 8 and s)
    assert browser.current_url.endswith("#/student/ada")
    assert [p.get_attribute("data-skill") for p in paths] == SKILLS
    for path in paths:  # 30 daily points: one move, 29 lines
        assert (path.get_attribute("d") or "").count("L") == 29
    wanted = httpx.get(f"{demo.url}/v1/students/ada/recommendations").json()["recommendations"]
    assert wanted, "the demo gives ada recommendations"
    items = elements(browser, "#recommendations li")
    assert [li.get_attribute("data-skill") for li in items] == [r["skill_id"] for r in wanted]
    assert wanted[0]["reason"] in items[0].text
    assert elements(browser, "#alerts li")
    assert len(elements(browser, "#current-mastery tbody tr")) == 8
    point = elements(browser, "#history-chart circle.point title")[0]
    assert "basics" in (point.get_attribute("textContent") or "")
    Select(browser.find_element(By.ID, "history-range")).select_by_value("90")
    first_path = "return document.querySelector('#history-chart path.series').getAttribute('d')"
    until(browser, lambda d: d.execute_script(first_path).count("L") == 89)  # 90 days
    browser.save_screenshot(str(tmp_path / "student.png"))
    assert (tmp_path / "student.png").read_bytes().startswith(b"\x89PNG")
    assert console_errors(browser) == []


def test_skill_page_shows_level_counts(browser: WebDriver, demo: Server) -> None:
    open_dashboard(browser, demo.url)
    heatmap_rows(browser, 6)
    browser.find_element(By.CSS_SELECTOR, "#heatmap th[data-skill='functions']").click()
    counts = until(browser, lambda d: len(c := elements(d, "#level-counts td.count")) == 4 and c)
    assert browser.current_url.endswith("#/skill/functions")
    analytics = httpx.get(f"{demo.url}/v1/analytics/skills").json()
    functions = next(s for s in analytics["skills"] if s["skill_id"] == "functions")
    assert [int(c.text) for c in counts] == [functions["levels"][level] for level in LEVELS]
    assert sum(int(c.text) for c in counts) == 6
    assert elements(browser, "#box-plot rect.box") and elements(browser, "#trend-chart path")
    assert console_errors(browser) == []


def test_class_heatmap_is_the_default_once_a_class_exists(browser: WebDriver, demo: Server) -> None:
    roster = {"students": ["grace", "ada", "newcomer"]}
    assert httpx.put(f"{demo.url}/v1/classes/5b", json=roster).status_code == 200
    try:
        open_dashboard(browser, demo.url)
        rows = heatmap_rows(browser, 3)
        assert [r.get_attribute("data-student") for r in rows] == ["ada", "grace", "newcomer"]
        assert browser.find_element(By.ID, "class-select").get_attribute("value") == "5b"
        empty = rows[2].find_elements(By.CSS_SELECTOR, "td.cell")
        assert all("level-none" in (c.get_attribute("class") or "") for c in empty)
        Select(browser.find_element(By.ID, "class-select")).select_by_value("")
        heatmap_rows(browser, len(DEMO_STUDENTS))
        assert browser.current_url.endswith("#/all")
        assert console_errors(browser) == []
    finally:
        httpx.delete(f"{demo.url}/v1/classes/5b")


class _Flaky503(BaseHTTPRequestHandler):
    """Forwards to the server, but answers the first analytics request 503 + Retry-After."""

    upstream = ""
    refused = threading.Event()

    def do_GET(self) -> None:
        if self.path.startswith("/v1/analytics/") and not self.refused.is_set():
            self.refused.set()
            self._answer(503, [("Retry-After", "1")], b'{"detail": "computing", "code": "x"}')
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        got = httpx.get(self.upstream + self.path, headers=headers)
        skip = {"content-length", "content-encoding", "connection", "transfer-encoding"}
        kept = [(k, v) for k, v in got.headers.items() if k.lower() not in skip]
        self._answer(got.status_code, kept, got.content)

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_skill_page_retries_while_analytics_are_computed(browser: WebDriver, demo: Server) -> None:
    handler = type("Handler", (_Flaky503,), {"upstream": demo.url, "refused": threading.Event()})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        open_dashboard(browser, f"http://127.0.0.1:{proxy.server_port}", "#/skill/basics")
        status = until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "p.status.computing"))
        assert "retrying in 1 s" in status.text
        until(browser, lambda d: len(elements(d, "#level-counts td.count")) == 4)
        assert "computing" not in (status.get_attribute("class") or "")
        assert console_errors(browser, allowed=("status of 503",)) == []
    finally:
        proxy.shutdown()
        proxy.server_close()


def token(*roles: str, sub: str = "t-1") -> str:
    """An HS256 token of the default tenant."""
    claims = {"sub": sub, "tenant": "default", "roles": list(roles), "exp": time.time() + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def enter_token(driver: WebDriver, value: str) -> None:
    """Type a token into the form once it shows, and send it."""
    field = until(
        driver, lambda d: (f := d.find_element(By.ID, "token-input")).is_displayed() and f
    )
    field.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()


def test_with_auth_on_it_asks_for_a_token(
    browser: WebDriver, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = tmp_path_factory.mktemp("auth") / "auth.db"
    auth = {"MASTERY_DEMO": "1", "MASTERY_AUTH": "jwt", "MASTERY_JWT_SECRET": SECRET, **QUICK_EXIT}
    with serve(db, free_port(), **auth) as server:
        open_dashboard(browser, server.url)
        reason = browser.find_element(By.ID, "token-reason")
        until(browser, lambda d: "needs a token (Authorization header is missing)" in reason.text)
        enter_token(browser, "not-a-token")
        until(browser, lambda d: "refused the token" in reason.text)
        enter_token(browser, token("student", sub="ada"))
        notice = until(
            browser, lambda d: (n := d.find_element(By.ID, "notice")).is_displayed() and n
        )
        assert "needs one of the roles: admin, service, teacher" in notice.text
        browser.find_element(By.ID, "forget-token").click()
        enter_token(browser, token("teacher"))
        heatmap_rows(browser, len(DEMO_STUDENTS))
        assert browser.find_element(By.ID, "who").text == "t-1 (teacher) · tenant default"
        assert not browser.find_element(By.ID, "token-form").is_displayed()
        stored = browser.execute_script("return sessionStorage.getItem('mastery-engine.token')")
        assert jwt.decode(stored, SECRET, algorithms=["HS256"])["roles"] == ["teacher"]
        errors = console_errors(browser)
        assert any("status of 401" in m for m in errors)  # the console is really read
        assert [m for m in errors if "status of 401" not in m and "status of 403" not in m] == []
