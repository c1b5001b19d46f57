"""The privacy team's console: the demo's Prefect UI in headless Chromium, from signing in and the access run to
approving an erasure.

Runs `python -m dsr.demo` in a temporary directory on a free port, drives the UI with Playwright (Debian's
Chromium, no browser download), saves screenshots under test-artifacts/ui/, and stops the demo by pid. The
server requires its credential (the demo's `.dsr/prefect-auth.key`): the UI shows its login page first.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import skip_service

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"

pytestmark = [pytest.mark.service, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The demo, running in a temporary directory on a free port; stopped afterwards (also on failure)."""
    if not CHROMIUM.exists():
        skip_service("Debian's chromium is not installed (.ci/run installs it)")
    root = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "DSR_DEMO_DIR": str(root / "demo"), "DSR_DEMO_PORT": str(_free_port())}
    env.pop("DSR_CONFIG", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "dsr.demo"], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert result.returncode == 0, result.stderr[-3000:]
        env["DSR_CONFIG"] = str(root / "demo" / "dsr.toml")
        yield env
    finally:
        subprocess.run([sys.executable, "-m", "dsr.demo", "--stop"], env=env, capture_output=True, check=False)


def _dsr_json(env: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "dsr", *args, "--json"], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


def _anonymous_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback http URL
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _sign_in(page: Page, ui: str, credential: str) -> None:
    """The UI's login page (Prefect's basic authentication): the whole `user:password` line, then the runs."""
    page.goto(f"{ui}/runs")
    field = page.locator("input[type=password]").first
    field.wait_for(timeout=60_000)
    page.screenshot(path=str(SHOTS / "00-login.png"))
    field.fill(credential)
    field.press("Enter")
    page.wait_for_url("**/runs**", timeout=60_000)


def _shown_after_reload(page: Page, text: str) -> None:
    """Wait for `text` on the page, reloading it once: on a loaded machine the flow-run page can render before
    the server has answered its list of task runs, and it does not always ask again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for(timeout=60_000)
    except PlaywrightTimeout:
        page.reload()
        page.get_by_text(text).first.wait_for(timeout=60_000)


def test_access_run_artifacts_and_erasure_approval_form(demo: dict[str, str]) -> None:
    """The UI asks for the credential; the access run shows its artifacts; the paused erasure run's Resume form
    approves it and it completes."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    ui = f"http://127.0.0.1:{demo['DSR_DEMO_PORT']}"
    assert _anonymous_status(f"{ui}/api/admin/version") == 401
    credential = (Path(demo["DSR_CONFIG"]).parent / ".dsr" / "prefect-auth.key").read_text().strip()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        _sign_in(page, ui, credential)
        page.goto(f"{ui}/runs")
        page.get_by_role("link", name="DSR-2026-0001-access").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "01-runs.png"))
        page.get_by_role("link", name="DSR-2026-0001-access").first.click()
        page.wait_for_url("**/flow-run/**")
        _shown_after_reload(page, "DSR-2026-0001-scan-laptop-01")
        page.screenshot(path=str(SHOTS / "02-access-run.png"))
        page.get_by_text("Artifacts", exact=True).first.click()
        page.get_by_text("dsr-2026-0001-summary").first.wait_for(timeout=30_000)
        page.screenshot(path=str(SHOTS / "03-access-artifacts.png"))
        assert "angstrom" not in page.content().lower()

        page.goto(f"{ui}/runs")
        page.get_by_role("link", name="DSR-2026-0002-erasure").first.click()
        page.wait_for_url("**/flow-run/**")
        page.get_by_role("button", name="Resume").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "04-erasure-paused.png"))
        page.get_by_role("button", name="Resume").first.click()
        page.get_by_text("Approve erasure plan").first.wait_for(timeout=30_000)
        page.screenshot(path=str(SHOTS / "05-approval-form.png"))
        boxes = page.locator("textarea")
        boxes.nth(0).fill("Dana Reviewer")  # required: the form refuses an empty name
        # boxes.nth(1) holds the plan's digest, filled in by the run; a decision on any other digest is refused.
        boxes.nth(2).fill("plan checked against the register")
        page.get_by_text("Approved", exact=False).first.wait_for()
        page.get_by_role("switch").first.click() if page.get_by_role("switch").count() else page.locator(
            "input[type=checkbox]"
        ).first.check(force=True)
        page.screenshot(path=str(SHOTS / "05b-approval-filled.png"))
        page.get_by_role("button", name="Submit").last.click()
        deadline = time.monotonic() + 300
        status = ""
        while time.monotonic() < deadline and status != "completed":
            time.sleep(3)
            status = str(_dsr_json(demo, "request", "show", "DSR-2026-0002")["status"])
        page.reload()
        page.get_by_text("Completed").first.wait_for(timeout=60_000)
        page.get_by_text("Artifacts", exact=True).first.click()
        page.wait_for_timeout(2000)
        page.screenshot(path=str(SHOTS / "06-erasure-completed.png"))
        browser.close()
    assert status == "completed"
    assert _dsr_json(demo, "request", "show", "DSR-2026-0002")["certificate"]
    docs = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
    if docs.is_dir():
        for shot in SHOTS.glob("*.png"):
            shutil.copy(shot, docs / shot.name)
