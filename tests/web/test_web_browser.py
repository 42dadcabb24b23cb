"""The web app in a real browser: Playwright drives Debian's chromium against a real uvicorn
server on 127.0.0.1. Screenshots go to $JOBGRAPH_SCREENSHOTS (or a temp folder) for a person
to look at.

Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing
(`.ci/run` installs chromium; `playwright install` is never used).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import DRAFT_JOB, FAST, PASSWORD, copy_site

from jobgraph.api import ApiSettings, create_app
from jobgraph.config import Settings
from jobgraph.domain.entities import Status
from jobgraph.service import Workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium "
        "(apt-get install -y chromium; .ci/run does it)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="browser tests need the playwright package (pip install -e '.[dev]')",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """uvicorn serving the app in a thread, until ``stop``."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(site_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = copy_site(site_template, tmp_path_factory.mktemp("live") / "site")
    ws = Workspace.open(root, settings=Settings(user="alice", workspace=None, database_url=None))
    server = LiveServer(create_app(ws, ApiSettings(webhooks=False), passwords=FAST))
    server.start()
    server.workspace = ws  # type: ignore[attr-defined]
    yield server
    server.stop()
    ws.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("JOBGRAPH_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    return context.new_page()


def sign_in(page: Any, live: LiveServer, user: str) -> None:
    page.goto(live.url + "/")
    assert page.url.startswith(live.url + "/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # the keyboard submits the form
    page.wait_for_url(live.url + "/")
    assert page.get_by_text(f"{user} (").is_visible()


def test_find_edit_lint_submit_approve_history_dashboard(
    browser: Any, live: LiveServer, shots: Path
) -> None:
    ws: Workspace = live.workspace  # type: ignore[attr-defined]
    page = new_page(browser)
    sign_in(page, live, "cora")
    page.screenshot(path=str(shots / "01-home.png"), full_page=False)

    # find the job through the search box in the header
    page.get_by_label("Search entities").fill("disputed charge")
    page.get_by_label("Search entities").press("Enter")
    page.wait_for_url(re.compile(r".*/entities\?q=disputed\+charge"))
    page.screenshot(path=str(shots / "02-search.png"))
    page.get_by_role("link", name="Settle a disputed charge").click()
    page.wait_for_url(live.url + f"/e/{DRAFT_JOB}")
    assert page.get_by_role("heading", name="Relationships").is_visible()

    # edit it: the linter's warning appears beside the field while typing (htmx)
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(live.url + f"/e/{DRAFT_JOB}/edit")
    statement = page.get_by_label("Statement")
    statement.fill(
        "When a charge looks wrong, I want to use the app to settle it quickly, so I can stop "
        "worrying about what I owe."
    )
    inline = page.locator("#f-statement-findings")
    inline.get_by_text("solution-word").wait_for()
    assert "app" in inline.inner_text()
    page.screenshot(path=str(shots / "03-edit-lint.png"), full_page=True)
    page.get_by_label("Reason for the change").fill("name the charge")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*\?saved=1$"))
    assert page.get_by_text("Saved as version 2.").is_visible()
    # the findings stay on the page after saving
    assert page.locator(".finding.warning").filter(has_text="solution-word").count() == 1

    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("Submitted for review (version 3).").wait_for()
    assert ws.get(DRAFT_JOB).entity.status is Status.IN_REVIEW
    page.screenshot(path=str(shots / "04-submitted.png"))

    # approve as a council member, in another session
    council = new_page(browser)
    sign_in(council, live, "cami")
    council.goto(live.url + f"/e/{DRAFT_JOB}")
    council.get_by_role("button", name="Approve").click()
    council.get_by_text("Approved (version 4).").wait_for()
    assert ws.get(DRAFT_JOB).entity.status is Status.APPROVED
    council.screenshot(path=str(shots / "05-approved.png"))

    # the history shows the edit side by side
    council.get_by_role("link", name="History").click()
    council.get_by_role("heading", name="Changes from version 3 to version 4").wait_for()
    council.get_by_label("Compare version").select_option("1")
    council.get_by_label("with version").select_option("2")
    council.get_by_role("button", name="Compare").click()
    council.get_by_role("heading", name="Changes from version 1 to version 2").wait_for()
    row = council.locator("table.diff tr", has=council.locator("code", has_text="statement"))
    assert "stop worrying about what I owe" in row.locator("td.old").inner_text()
    assert "use the app" in row.locator("td.new").inner_text()
    council.screenshot(path=str(shots / "06-history.png"), full_page=True)

    # a dashboard: the chart is rendered, with marks
    council.get_by_role("link", name="Metrics").click()
    council.wait_for_url(live.url + "/dashboards/metrics")
    chart = council.locator("figure.chart svg[role=img]").first
    chart.wait_for()
    assert chart.bounding_box()["width"] > 300
    assert chart.locator("path").count() > 5
    assert chart.locator("title").first.text_content()
    council.screenshot(path=str(shots / "07-metrics.png"), full_page=True)
    council.get_by_role("link", name="Opportunities").click()
    landscape = council.locator("figure.chart svg[role=img]")
    landscape.wait_for()
    assert landscape.locator("text").count() > 10  # outcome labels and axes
    council.screenshot(path=str(shots / "08-landscape.png"))
    council.get_by_role("link", name="Personas", exact=True).click()
    council.locator("figure.chart svg[role=img]").wait_for()
    council.screenshot(path=str(shots / "09-personas.png"), full_page=True)


def test_keyboard_focus_is_visible_and_skip_link_works(
    browser: Any, live: LiveServer, shots: Path
) -> None:
    page = new_page(browser)
    sign_in(page, live, "vic")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.screenshot(path=str(shots / "10-focus.png"))
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_viewer_refusal_is_shown(browser: Any, live: LiveServer) -> None:
    page = new_page(browser)
    sign_in(page, live, "vic")
    page.goto(live.url + f"/e/{DRAFT_JOB}")
    assert page.get_by_role("link", name="Edit").count() == 0
    response = page.goto(live.url + f"/e/{DRAFT_JOB}/edit")
    assert response is not None and response.status == 403
    assert page.get_by_role("alert").inner_text().startswith("vic is a viewer")
