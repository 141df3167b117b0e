"""The Dagster UI in a real browser (Debian's headless Chromium through chromedriver and Selenium):
every documented asset is in the catalog, Materialize all on `stripe_datalake_pipeline` launches a run
that succeeds, and `lake/stripe/charges` shows its checks and its row-count plot.

Screenshots of each step go to .local/test-artifacts/browser/ (ignored by git).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest

from airbyte_platform.airflow_compat.dags import DAGS
from airbyte_platform.settings import PROJECT_ROOT

from .conftest import Topology

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("topology")]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = PROJECT_ROOT / ".local" / "test-artifacts" / "browser"
JOB = "stripe_datalake_pipeline"
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "no chromium/chromedriver on PATH: install Debian's chromium and chromium-driver "
            "(make test does so where it runs as root with apt-get)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",  # this machine's closed network refuses Google's hosts
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1600,4000",  # tall: the asset catalog renders only the rows in view
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait_for(driver, condition, what: str, timeout: float = TIMEOUT):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = condition()
        except Exception:  # stale elements while the page renders
            found = None
        if found:
            return found
        time.sleep(0.5)
    driver.save_screenshot(str(SCREENSHOTS / f"timeout-{what.replace(' ', '_')}.png"))
    raise AssertionError(f"the UI did not show {what} within {timeout:.0f} s")


def _page_text(driver) -> str:  # type: ignore[no-untyped-def]
    return driver.find_element("tag name", "body").text


def _dismiss_dialogs(driver) -> None:  # type: ignore[no-untyped-def]
    """Close what a first-time user is greeted with (the community sign-up dialog), as they would."""
    for button in driver.find_elements("css selector", ".bp5-dialog button, .bp5-overlay button"):
        if button.text.strip() in ("Skip", "Dismiss", "Close"):
            button.click()
            time.sleep(0.5)


def _documented_assets() -> set[str]:
    return {key.to_user_string() for dag in DAGS for key in dag.asset_keys}


@pytest.mark.timeout(900)
def test_the_ui_in_a_browser(topology: Topology, browser) -> None:  # type: ignore[no-untyped-def]
    driver = browser
    ui = topology.ui.url

    # 1. Every documented asset is in the catalog.
    driver.get(f"{ui}/assets?view=flat")
    expected = _documented_assets()

    def catalog_lists_all() -> bool:
        text = _page_text(driver)
        return all(key.split("/")[-1] in text for key in expected) and "charges" in text

    _wait_for(driver, catalog_lists_all, "every documented asset in the catalog")
    driver.save_screenshot(str(SCREENSHOTS / "1-catalog.png"))
    catalog = _page_text(driver)
    for key in expected:
        assert all(part in catalog for part in key.split("/")), f"{key} not in the asset catalog"

    # 2. Materialize all on the job's page launches a run, which succeeds.
    before = {run["runId"] for run in topology.ui.runs_tagged("airflow/dag_id", JOB)}
    driver.get(f"{ui}/locations/airbyte_platform/jobs/{JOB}")

    def click_materialize_all() -> bool:
        _dismiss_dialogs(driver)
        button = next(b for b in driver.find_elements("tag name", "button") if "Materialize all" in b.text)
        driver.save_screenshot(str(SCREENSHOTS / "2-job.png"))
        button.click()  # raises while a dialog covers it or the page re-renders: retried
        return True

    _wait_for(driver, click_materialize_all, "a clickable Materialize all button")
    new_runs = _wait_for(
        driver,
        lambda: [r for r in topology.ui.runs_tagged("airflow/dag_id", JOB) if r["runId"] not in before],
        "a new run after Materialize all",
    )
    [run] = new_runs
    driver.get(f"{ui}/runs/{run['runId']}")
    status = topology.ui.wait([run["runId"]], timeout=600)[run["runId"]]
    driver.save_screenshot(str(SCREENSHOTS / "3-run.png"))
    assert status == "SUCCESS", topology.log_tail()

    # 3. lake/stripe/charges: its checks, and the row count plotted over its materializations.
    driver.get(f"{ui}/assets/lake/stripe/charges?view=checks")
    _wait_for(
        driver,
        lambda: all(name in _page_text(driver) for name in ("min_records", "gx_suite")),
        "the checks of lake/stripe/charges",
    )
    driver.save_screenshot(str(SCREENSHOTS / "4-checks.png"))
    driver.get(f"{ui}/assets/lake/stripe/charges")

    def open_plots() -> bool:  # the Overview's Metadata section: Table | Plots
        _dismiss_dialogs(driver)
        next(b for b in driver.find_elements("tag name", "button") if b.text.strip() == "Plots").click()
        return True

    _wait_for(driver, open_plots, "the Plots view of lake/stripe/charges' metadata")
    _wait_for(
        driver,
        lambda: (
            "row_count" in _page_text(driver).lower()
            and (
                driver.find_elements("tag name", "canvas") or driver.find_elements("css selector", "svg path")
            )
        ),
        "the row-count plot of lake/stripe/charges",
    )
    driver.save_screenshot(str(SCREENSHOTS / "5-plots.png"))
