"""The status page in a real headless Chromium (Debian's ``chromium``, driven by selenium and chromedriver).

The page is published from this repository's own history, loaded from the
published directory (as a file, and over HTTP as Pages serves it), and
checked in the rendered DOM: six flags with their states, no request outside
the page's directory, no console error, text contrast; a screenshot is saved
as a test artifact (``FLAGGATE_ARTIFACTS``, default ``build/test-artifacts``).

Skipped only outside CI when Chromium is not installed; ``.ci/run`` installs it
(``FLAGGATE_CHROMIUM`` and ``FLAGGATE_CHROMEDRIVER`` point at another Chrome).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.test_page import scripted

CHROMIUM = os.environ.get("FLAGGATE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("FLAGGATE_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("FLAGGATE_ARTIFACTS", REPO / "build" / "test-artifacts"))

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)) and not os.environ.get("CI"):
    pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers on the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="flaggate-chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,1200",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def publish(repo: Path, out: Path, *extra: str) -> Path:
    from validator.cli import main

    assert main(["publish", "--root", str(repo), "--out", str(out), *extra]) == 0
    return out


@pytest.fixture(scope="module")
def this_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `flaggate publish` writes for this repository (its own git history; a shallow clone fails here)."""
    return publish(REPO, tmp_path_factory.mktemp("this") / "public")


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    # Polled for shutdown() every 10 ms (serve_forever's default, 0.5 s, was waited out at the end).
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


def load(driver: Any, url: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Load ``url``; the URLs it requested and what its console said (earlier logs drained first)."""
    driver.get("about:blank")
    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(url)
    driver.execute_script("return document.readyState")
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    return requests, driver.get_log("browser")


def rendered_flags(driver: Any) -> dict[str, dict[str, str]]:
    return driver.execute_script(
        """
        const out = {};
        for (const s of document.querySelectorAll('section.flag')) {
          out[s.dataset.flag] = {
            heading: s.querySelector('h2').innerText,
            state: s.querySelector('h2 .badge').innerText,
            percentage: s.querySelector('.percentage').innerText,
            plan: s.querySelector('svg.plan title').textContent,
            visible: String(s.getBoundingClientRect().height > 0),
          };
        }
        return out;
        """
    )


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_page_of_this_repository_in_chromium(browser: Any, this_repository: Path) -> None:
    config = json.loads((this_repository / "config.json").read_text())
    base = this_repository.as_uri() + "/"
    requests, console = load(browser, base + "index.html")
    assert requests and requests[0] == base + "index.html"
    outside = [url for url in requests if not (url.startswith(base) or url.startswith("data:"))]
    assert outside == [], outside
    assert [entry for entry in console if entry["level"] in ("SEVERE", "WARNING")] == []

    flags = rendered_flags(browser)
    assert len(flags) == 6 and set(flags) == set(config["flags"])
    for name, flag in config["flags"].items():
        shown = flags[name]
        assert shown["state"].split()[0] == flag["state"], shown
        assert shown["percentage"] == f"{flag['percentage']}%"
        assert shown["visible"] == "true" and "current step: " in shown["plan"]
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.execute_script("return document.querySelectorAll('h1').length") == 1

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_page_over_http_like_pages(browser: Any, tmp_path: Path) -> None:
    """A richer history (promotions, evidence, a demote), served over HTTP as GitHub Pages would."""
    # The scripted history moves flags by hand (its soaks and runs are not what is tested here):
    # publish it as trusted, judging nothing before its last commit.
    out = publish(scripted(tmp_path), tmp_path / "public", "--since", "HEAD")
    httpd, base = serve(out)
    try:
        requests, console = load(browser, base)  # the directory URL: Pages serves index.html
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert requests and all(url.startswith(base) for url in requests if not url.startswith("data:")), requests
    assert not [entry for entry in console if entry["level"] in ("SEVERE", "WARNING")]
    flags = rendered_flags(browser)
    assert flags["allocation_read_switch"]["state"] == "canary 25%"
    assert flags["allocation_dual_write"]["state"] == "shadow"
    charts = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart')].map(s => [s.querySelector('title').textContent, s.getBoundingClientRect().width])"
    )
    assert len(charts) == 3 and all(width > 50 for _, width in charts)
    assert browser.execute_script("return document.querySelector('#flag-allocation_read_switch progress').value") == 86400
    # Contrast (WCAG AA, 4.5:1) of the text that carries meaning: badges, current step, reason codes, body.
    pairs = browser.execute_script(
        """
        const rgb = c => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
        const css = (sel, fg, bg) => [...document.querySelectorAll(sel)].map(e => {
          const s = getComputedStyle(e); return [sel, rgb(s[fg]), rgb(s[bg])];
        });
        const svgText = [...document.querySelectorAll('svg.plan text.now')].map(t => {
          const rect = t.previousElementSibling; return ['text.now', rgb(getComputedStyle(t).fill), rgb(getComputedStyle(rect).fill)];
        });
        return [...css('.badge', 'color', 'backgroundColor'), ...css('.reason', 'color', 'backgroundColor'), ...svgText,
                ['body', rgb(getComputedStyle(document.body).color), [255, 255, 255]]];
        """
    )
    assert len(pairs) > 10
    low = [(what, fg, bg) for what, fg, bg in pairs if contrast(fg, bg) < 4.5]
    assert low == []
